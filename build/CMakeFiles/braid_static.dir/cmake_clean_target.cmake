file(REMOVE_RECURSE
  "libbraid.a"
)
