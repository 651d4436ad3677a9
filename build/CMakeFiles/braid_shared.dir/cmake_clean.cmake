file(REMOVE_RECURSE
  "libbraid.pdb"
  "libbraid.so"
  "libbraid.so.0"
  "libbraid.so.0.1.0"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/braid_shared.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
