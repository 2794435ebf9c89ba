/*
 * marllb/seed_compat.h — the seed document's C names over the C API (marllb/shm.h), for code
 * written against the seed's sketch ("C API" and "VPP Plugin Integration" in
 * seed/problem-02-shared-memory-ipc.md). Header only: static inline functions over the
 * marllb_ calls; link the marllb_shm library as for marllb/shm.h.
 *
 *   seed                               here                                   C API
 *   shm_region_t                       the LB's handle                        marllb_lb_t
 *   shm_create(name, size)             create, or reopen after a restart      marllb_lb_open
 *   shm_create_servers(name, size, n)  the same, declaring n servers (actions
 *                                      for another count are refused)         marllb_lb_open
 *   shm_write_observation(shm, &obs)   publish; returns the sequence id       marllb_lb_publish
 *   shm_read_action(shm)               poll; the action in force, or NULL     marllb_lb_poll_action,
 *                                                                             marllb_lb_action
 *   msg_out_t, msg_in_t, reservoir_raw_t, reservoir_data_t, MAX_AS, RESERVOIR_CAPACITY,
 *   NUM_FEATURES, RING_BUFFER_SIZE     the layout's types and sizes           marllb/shm_layout.h
 *
 * Not in the seed, which never closes a region and sketches its agent in Python only:
 * shm_close (marllb_lb_close), and the C form of the seed's Python agent calls: shm_agent_t,
 * shm_attach, shm_read_observation (read_observation), shm_write_action (write_action).
 * Everything else is the marllb_ API on the same handles (shm_region_t is marllb_lb_t).
 *
 * Where the sketch is not followed, on purpose:
 *  - shm_write_observation sets obs->sequence_id itself (1, 2, 3, ..., continued by a
 *    restarted LB): the seed's get_next_seq_id() is the region's, so the caller's value is
 *    overwritten. It returns the id given.
 *  - shm_read_action returns the LB's private copy of the action in force (already validated,
 *    stable until the next call), never the agent's shared slot. It is not const, so that the
 *    seed's `msg_in_t *action = shm_read_action(shm);` compiles cleanly; writing through it
 *    changes only what later calls return until the next action is applied (the LB decides
 *    what is new by the sequence id it applied, kept apart), nothing the agent sees. The
 *    seed's test `action->sequence_id > last_applied` tells a new action from the last.
 *  - size: the layout is fixed by the ABI (marllb_lb_size says the region's size); size only
 *    chooses whether the optional raw reservoirs are there: sizeof(shm_data_t) without,
 *    sizeof(shm_data_reservoirs_t) (any size above MARLLB_REGION_SIZE_BASE) with. Publish
 *    reservoirs with marllb_lb_publish(shm, &obs, &raw).
 *  - Failures return NULL (or a negative marllb_status_t); marllb_last_error() says why.
 *
 * Build with the installed library (libmarllb-shm-dev, or cmake --install):
 *   #include <marllb/seed_compat.h>:  gcc -c plugin.c $(pkg-config --cflags marllb-shm)
 *   the seed's #include "shm_layout.h": gcc -c plugin.c $(pkg-config --cflags marllb-shm-seed)
 *   link (either):                     gcc -shared -o plugin.so plugin.o $(pkg-config --libs marllb-shm)
 *   CMake: find_package(marllb_shm CONFIG REQUIRED), then target_link_libraries(plugin PRIVATE
 *   marllb::shm), or marllb::shm_seed for the seed's include name (docs/c-api.md).
 *
 * Thread and process contract: as marllb/shm.h (shm_* on an shm_region_t in the LB process
 * only, on an shm_agent_t in the agent process only; one thread per handle at a time).
 */
#ifndef MARLLB_SEED_COMPAT_H
#define MARLLB_SEED_COMPAT_H

#include <marllb/shm.h>

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The seed's constants, unless the including code has its own (then they must agree). */
#ifndef MAX_AS
#define MAX_AS MARLLB_MAX_AS
#endif
#ifndef RESERVOIR_CAPACITY
#define RESERVOIR_CAPACITY MARLLB_RESERVOIR_CAPACITY
#endif
#ifndef NUM_FEATURES
#define NUM_FEATURES MARLLB_NUM_FEATURES
#endif
#ifndef RING_BUFFER_SIZE
#define RING_BUFFER_SIZE MARLLB_RING_SLOTS
#endif
MARLLB_STATIC_ASSERT(MAX_AS == MARLLB_MAX_AS, "MAX_AS differs from the region's 64 servers");
MARLLB_STATIC_ASSERT(RESERVOIR_CAPACITY == MARLLB_RESERVOIR_CAPACITY, "RESERVOIR_CAPACITY differs from the region's 128");
MARLLB_STATIC_ASSERT(NUM_FEATURES == MARLLB_NUM_FEATURES, "NUM_FEATURES differs from the region's 5");
MARLLB_STATIC_ASSERT(RING_BUFFER_SIZE == MARLLB_RING_SLOTS, "RING_BUFFER_SIZE differs from the region's 4 slots");

typedef marllb_msg_out_t msg_out_t;
typedef marllb_msg_in_t msg_in_t;
typedef marllb_reservoir_raw_t reservoir_raw_t;
typedef marllb_reservoir_data_t reservoir_data_t;

/* What the seed's shm_create(name, sizeof(shm_data_t)) asks for: sizes, never instantiated. */
typedef struct shm_data {
    unsigned char bytes[MARLLB_REGION_SIZE_BASE];
} shm_data_t;
typedef struct shm_data_reservoirs {
    unsigned char bytes[MARLLB_REGION_SIZE_WITH_RESERVOIRS];
} shm_data_reservoirs_t;

typedef marllb_lb_t shm_region_t;
typedef marllb_agent_t shm_agent_t;

/* LB side, at init: the region `name` (e.g. "marllb_lb0"), created, or reopened when a
 * previous LB left it (sequence ids continue, the action in force is re-adopted). NULL on
 * failure. */
static inline shm_region_t *shm_create(const char *name, size_t size)
{
    marllb_options_t opts;
    marllb_lb_t *lb = NULL;
    marllb_options_init(&opts);
    if (size > MARLLB_REGION_SIZE_BASE) opts.flags |= MARLLB_OPT_RAW_RESERVOIRS;
    return marllb_lb_open(name, &opts, &lb, NULL) == MARLLB_OK ? lb : NULL;
}

/* As shm_create, and the LB declares num_servers (1..64): an action for another count is
 * refused by the LB (MARLLB_ACTION_SERVER_COUNT), never applied. A plugin knows its server
 * set at init: prefer this to shm_create. When the set changes, marllb_lb_set_servers. */
static inline shm_region_t *shm_create_servers(const char *name, size_t size, uint32_t num_servers)
{
    marllb_options_t opts;
    marllb_lb_t *lb = NULL;
    marllb_options_init(&opts);
    if (size > MARLLB_REGION_SIZE_BASE) opts.flags |= MARLLB_OPT_RAW_RESERVOIRS;
    opts.num_servers = num_servers;
    return marllb_lb_open(name, &opts, &lb, NULL) == MARLLB_OK ? lb : NULL;
}

/* LB side, on the publish timer: publishes obs as the next observation (sets its sequence_id,
 * and timestamp_us if 0). Never blocks. Returns the sequence id. */
static inline uint64_t shm_write_observation(shm_region_t *shm, msg_out_t *obs)
{
    return marllb_lb_publish(shm, obs, NULL);
}

/* LB side, on every burst: one cache-line load when nothing changed. The action in force (a
 * new one replaces it only if valid and newer), or NULL while the agent has sent none: this
 * handle's private copy (marllb_lb_action), hence not const (see the top of this file). */
static inline msg_in_t *shm_read_action(shm_region_t *shm)
{
    (void)marllb_lb_poll_action(shm, NULL);
    return (msg_in_t *)(uintptr_t)marllb_lb_action(shm); /* via uintptr_t: no -Wcast-qual */
}

/* LB side, at exit: releases the region, which stays for a restarted LB. NULL is ignored. */
static inline void shm_close(shm_region_t *shm)
{
    marllb_lb_close(shm);
}

/* Agent side: attach to the region an LB holds. NULL on failure (E_NOENT: start the LB). */
static inline shm_agent_t *shm_attach(const char *name)
{
    marllb_agent_t *agent = NULL;
    return marllb_agent_attach(name, NULL, &agent) == MARLLB_OK ? agent : NULL;
}

/* Agent side, the seed's read_observation(): the newest observation, newer than any returned
 * before. 1 (and *out), 0 when nothing newer is published (or every newer slot was being
 * overwritten: call again), else a negative marllb_status_t. */
static inline int shm_read_observation(shm_agent_t *agent, msg_out_t *out)
{
    marllb_observation_t obs;
    const int rc = marllb_agent_read_newest(agent, &obs);
    if (rc == MARLLB_E_AGAIN) return 0;
    if (rc != MARLLB_OK) return rc;
    *out = obs.msg;
    return 1;
}

/* Agent side, the seed's write_action(sequence_id, weights, num_servers): builds the alias
 * table from the weights and writes the action answering observation sequence_id. 0, or
 * MARLLB_E_INVAL (weights the alias table cannot be built from), MARLLB_E_REJECTED (the LB
 * would refuse it: sequence_id 0 or not yet published), MARLLB_E_BUSY. */
static inline int shm_write_action(shm_agent_t *agent, uint64_t sequence_id, const float *weights,
                                   uint32_t num_servers)
{
    msg_in_t action;
    marllb_verdicts_t v;
    int rc;
    memset(&action, 0, sizeof action);
    rc = marllb_alias_build(weights, num_servers, action.alias_table); /* checks n first */
    if (rc != MARLLB_OK) return rc;
    memcpy(action.weights, weights, num_servers * sizeof(float));
    action.sequence_id = sequence_id;
    action.timestamp_us = marllb_now_realtime_us();
    action.num_servers = num_servers;
    marllb_agent_verdicts(agent, &v); /* the generation of the LB now holding the region */
    return marllb_agent_write_action(agent, &action, (uint32_t)v.generation, NULL);
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MARLLB_SEED_COMPAT_H */
