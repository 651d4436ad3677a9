file(REMOVE_RECURSE
  "libbraid.a"
  "libbraid.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/braid_static.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
