file(REMOVE_RECURSE
  "CMakeFiles/braid.dir/src/host/braid.c.o"
  "CMakeFiles/braid.dir/src/host/braid.c.o.d"
  "bin/braid"
  "bin/braid.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/braid.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
