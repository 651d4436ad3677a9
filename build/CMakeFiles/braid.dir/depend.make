# Empty dependencies file for braid.
# This may be replaced when dependencies are built.
