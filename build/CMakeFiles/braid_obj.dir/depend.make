# Empty dependencies file for braid_obj.
# This may be replaced when dependencies are built.
