CMakeFiles/braid_obj.dir/braid_lua_embed.c.o: \
 /work/main/build/braid_lua_embed.c /usr/include/stdc-predef.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
