# Empty dependencies file for braid_static.
# This may be replaced when dependencies are built.
