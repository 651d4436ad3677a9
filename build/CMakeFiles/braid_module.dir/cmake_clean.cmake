file(REMOVE_RECURSE
  "braid/core.pdb"
  "braid/core.so"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/braid_module.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
