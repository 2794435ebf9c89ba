/*
 * shm_layout.h — the seed sketch's include name ("C API" in seed/problem-02-shared-memory-ipc.md:
 * #include "shm_layout.h", then shm_create, shm_write_observation, shm_read_action). It gives
 * marllb/seed_compat.h: the seed's names over the C API. Opt-in, so that the generic name is
 * seen only by code written to the seed:
 *
 *   gcc -c node.c $(pkg-config --cflags marllb-shm-seed)
 *   gcc -o plugin.so -shared node.o $(pkg-config --libs marllb-shm-seed)
 *   CMake: find_package(marllb_shm CONFIG REQUIRED), target_link_libraries(t marllb::shm_seed)
 *
 * The project's own ABI header is marllb/shm_layout.h (types and sizes only).
 */
#ifndef MARLLB_SEED_SHM_LAYOUT_H
#define MARLLB_SEED_SHM_LAYOUT_H

#include <marllb/seed_compat.h>

#endif /* MARLLB_SEED_SHM_LAYOUT_H */
