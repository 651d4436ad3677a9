file(REMOVE_RECURSE
  "CMakeFiles/braid_obj.dir/braid_lua_embed.c.o"
  "CMakeFiles/braid_obj.dir/braid_lua_embed.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/lcore.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/lcore.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/lserial.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/lserial.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/lshm.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/lshm.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/lsync.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/lsync.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/ltest.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/ltest.c.o.d"
  "CMakeFiles/braid_obj.dir/src/bind/lthread.c.o"
  "CMakeFiles/braid_obj.dir/src/bind/lthread.c.o.d"
  "CMakeFiles/braid_obj.dir/src/core/error.c.o"
  "CMakeFiles/braid_obj.dir/src/core/error.c.o.d"
  "CMakeFiles/braid_obj.dir/src/core/handle.c.o"
  "CMakeFiles/braid_obj.dir/src/core/handle.c.o.d"
  "CMakeFiles/braid_obj.dir/src/core/serial.c.o"
  "CMakeFiles/braid_obj.dir/src/core/serial.c.o.d"
  "CMakeFiles/braid_obj.dir/src/core/thread.c.o"
  "CMakeFiles/braid_obj.dir/src/core/thread.c.o.d"
  "CMakeFiles/braid_obj.dir/src/os/os_posix.c.o"
  "CMakeFiles/braid_obj.dir/src/os/os_posix.c.o.d"
  "braid_lua_embed.c"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/braid_obj.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
