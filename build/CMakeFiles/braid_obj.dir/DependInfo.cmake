
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/build/braid_lua_embed.c" "CMakeFiles/braid_obj.dir/braid_lua_embed.c.o" "gcc" "CMakeFiles/braid_obj.dir/braid_lua_embed.c.o.d"
  "/work/main/src/bind/lcore.c" "CMakeFiles/braid_obj.dir/src/bind/lcore.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/lcore.c.o.d"
  "/work/main/src/bind/lserial.c" "CMakeFiles/braid_obj.dir/src/bind/lserial.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/lserial.c.o.d"
  "/work/main/src/bind/lshm.c" "CMakeFiles/braid_obj.dir/src/bind/lshm.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/lshm.c.o.d"
  "/work/main/src/bind/lsync.c" "CMakeFiles/braid_obj.dir/src/bind/lsync.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/lsync.c.o.d"
  "/work/main/src/bind/ltest.c" "CMakeFiles/braid_obj.dir/src/bind/ltest.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/ltest.c.o.d"
  "/work/main/src/bind/lthread.c" "CMakeFiles/braid_obj.dir/src/bind/lthread.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/bind/lthread.c.o.d"
  "/work/main/src/core/error.c" "CMakeFiles/braid_obj.dir/src/core/error.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/core/error.c.o.d"
  "/work/main/src/core/handle.c" "CMakeFiles/braid_obj.dir/src/core/handle.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/core/handle.c.o.d"
  "/work/main/src/core/serial.c" "CMakeFiles/braid_obj.dir/src/core/serial.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/core/serial.c.o.d"
  "/work/main/src/core/thread.c" "CMakeFiles/braid_obj.dir/src/core/thread.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/core/thread.c.o.d"
  "/work/main/src/os/os_posix.c" "CMakeFiles/braid_obj.dir/src/os/os_posix.c.o" "gcc" "CMakeFiles/braid_obj.dir/src/os/os_posix.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
