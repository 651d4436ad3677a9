# Empty dependencies file for braid_module.
# This may be replaced when dependencies are built.
