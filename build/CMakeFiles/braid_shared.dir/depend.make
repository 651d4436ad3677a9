# Empty dependencies file for braid_shared.
# This may be replaced when dependencies are built.
