/*
 * marllb/shm_layout.h — the shared-memory ABI between a MARLLB load balancer (LB) and its
 * reinforcement-learning agent. Usable from C11 and C++; every size and offset is asserted.
 *
 * Region = one file in /dev/shm (default "marllb_lb0"), four page-aligned sections:
 *
 *   offset  section              writer   contents
 *   0       header               LB       identity, section table, generation, LB heartbeat,
 *                                         verdicts on the agent's actions
 *   512     action record        LB       (same page) the action in force, kept for a restarted
 *                                         LB; read only by the next LB of the region
 *   4096    observation ring     LB       published_seq + 4 seqlock'd slots of msg_out_t
 *   16384   action section       agent    seqlock'd msg_in_t, agent heartbeat
 *   20480   raw reservoirs       LB       optional: 2 seqlock'd buffers of reservoir samples
 *
 * Ownership (no field has two writers):
 *   - Everything in the header, the ring and the reservoirs is written only by the LB process
 *     that holds the region's LB lock; the agent maps those pages read-only.
 *   - Everything in the action section is written only by the agent process that holds the
 *     region's agent lock; the LB maps that page read-only.
 *   - The action record (marllb_action_record_t, at MARLLB_ACTION_RECORD_OFFSET in the header's
 *     page, in space a region of this ABI version has always zero-filled) is written only by
 *     the LB; its only reader is the LB that reopens the region after that LB died. Zeroes
 *     mean "nothing recorded", so a region made by an older build of this ABI reads as empty.
 *   - The creator builds and initialises the region under no name (O_TMPFILE, or a temporary
 *     name where the file system lacks it), then gives it its name atomically; no process can
 *     open a half-initialised region.
 *
 * Seqlock words ("lock") hold 2*seq when their payload is complete and an odd value while it
 * is being written; payloads are copied with relaxed 8-byte atomic accesses between
 * acquire/release fences (see docs/design/seqlock.md). Callers never touch these words
 * directly: use the API in marllb/shm.h.
 */
#ifndef MARLLB_SHM_LAYOUT_H
#define MARLLB_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define MARLLB_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
extern "C" {
#else
#define MARLLB_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define MARLLB_MAGIC UINT64_C(0x314D48534C4C524D) /* "MRLLSHM1" little-endian */
#define MARLLB_ABI_VERSION 1u

#define MARLLB_MAX_AS 64u
#define MARLLB_RESERVOIR_CAPACITY 128u
#define MARLLB_NUM_FEATURES 5u
#define MARLLB_NUM_METRICS 2u /* FCT, flow duration */
#define MARLLB_FEATURES_PER_AS (MARLLB_NUM_FEATURES * MARLLB_NUM_METRICS)
#define MARLLB_RING_SLOTS 4u
#define MARLLB_RESERVOIR_BUFFERS 2u
#define MARLLB_CACHE_LINE 64u
#define MARLLB_PAGE_SIZE 4096u

/* Index of each feature in as_stats[i].reservoir_features: FCT first, then flow duration. */
enum marllb_feature {
    MARLLB_FCT_MEAN = 0,
    MARLLB_FCT_P90 = 1,
    MARLLB_FCT_STD = 2,
    MARLLB_FCT_MEAN_DECAY = 3,
    MARLLB_FCT_P90_DECAY = 4,
    MARLLB_DURATION_MEAN = 5,
    MARLLB_DURATION_P90 = 6,
    MARLLB_DURATION_STD = 7,
    MARLLB_DURATION_MEAN_DECAY = 8,
    MARLLB_DURATION_P90_DECAY = 9
};

/* ---- Observation: LB -> agent (the seed's fields, in the seed's order) ---------------- */

typedef struct marllb_as_stats {
    uint32_t n_flow_on;
    float reservoir_features[MARLLB_FEATURES_PER_AS];
} marllb_as_stats_t;

typedef struct marllb_msg_out {
    uint64_t sequence_id;      /* set by marllb_lb_publish: 1, 2, 3, ... never reused */
    uint64_t timestamp_us;     /* CLOCK_REALTIME microseconds; stamped by publish if 0. An LB
                                  whose features run on another clock (a simulator in lockstep:
                                  marllb-sim writes its simulated time) puts that clock here */
    uint64_t active_as_bitmap; /* bit i set: server i is active */
    uint32_t num_active_as;
    uint32_t reserved;
    marllb_as_stats_t as_stats[MARLLB_MAX_AS];
} marllb_msg_out_t;

/* ---- Action: agent -> LB ------------------------------------------------------------ */

typedef struct marllb_alias_entry {
    float prob;     /* probability of keeping index i, in [0, 1] */
    uint32_t alias; /* index drawn otherwise, < num_servers */
} marllb_alias_entry_t;

typedef struct marllb_msg_in {
    uint64_t sequence_id;  /* echoes the sequence_id of the observation it answers */
    uint64_t timestamp_us; /* CLOCK_REALTIME microseconds when the action was computed */
    uint32_t num_servers;  /* 1..64; weights and alias entries beyond it are unused */
    uint32_t reserved;
    float weights[MARLLB_MAX_AS];
    marllb_alias_entry_t alias_table[MARLLB_MAX_AS];
} marllb_msg_in_t;

/* ---- Optional raw reservoirs -------------------------------------------------------- */

typedef struct marllb_reservoir_raw {
    float values[MARLLB_RESERVOIR_CAPACITY];
    uint64_t timestamps[MARLLB_RESERVOIR_CAPACITY]; /* CLOCK_MONOTONIC ns of each sample */
} marllb_reservoir_raw_t;

typedef struct marllb_reservoir_data {
    marllb_reservoir_raw_t fct[MARLLB_MAX_AS];
    marllb_reservoir_raw_t flow_duration[MARLLB_MAX_AS];
} marllb_reservoir_data_t;

/* ---- Region sections ---------------------------------------------------------------- */

#define MARLLB_FLAG_RAW_RESERVOIRS 0x1u
#define MARLLB_FLAG_HUGEPAGES 0x2u

/* Reasons the LB rejects an action; counted per reason in the header. */
typedef enum marllb_action_reject {
    MARLLB_ACTION_OK = 0,
    MARLLB_ACTION_SEQ_ZERO = 1,           /* sequence_id 0 answers no observation */
    MARLLB_ACTION_SEQ_FROM_FUTURE = 2,    /* sequence_id newer than any published observation */
    MARLLB_ACTION_NUM_SERVERS = 3,        /* num_servers not in 1..64 */
    MARLLB_ACTION_WEIGHT_NOT_FINITE = 4,  /* NaN or infinite weight */
    MARLLB_ACTION_WEIGHT_NEGATIVE = 5,    /* weight < 0 */
    MARLLB_ACTION_WEIGHT_BEYOND_N = 6,    /* non-zero weight at index >= num_servers */
    MARLLB_ACTION_WEIGHTS_ALL_ZERO = 7,   /* nothing could be chosen */
    MARLLB_ACTION_ALIAS_PROB_RANGE = 8,   /* alias prob NaN or outside [0, 1] */
    MARLLB_ACTION_ALIAS_INDEX_RANGE = 9,  /* alias index >= num_servers */
    MARLLB_ACTION_ALIAS_MISMATCH = 10,    /* alias table does not draw the weights' shares */
    MARLLB_ACTION_RESERVED_NONZERO = 11,  /* msg_in_t.reserved is not 0 */
    MARLLB_ACTION_ALIAS_BEYOND_N = 12,    /* alias entry at index >= num_servers is not all zero */
    MARLLB_ACTION_SERVER_COUNT = 13,      /* num_servers is not the LB's declared server count */
    MARLLB_ACTION_SERVER_SET = 14,        /* answers an observation of a server set the LB has
                                             since replaced (sequence_id < server_set_seq) */
    MARLLB_ACTION_META = 15,              /* the bytes the LB copies with msg_in_t are junk:
                                             obs_generation beyond the LB's, or their reserved
                                             word non-zero */
    MARLLB_ACTION_REJECT_REASONS = 16
} marllb_action_reject_t;

typedef struct marllb_region_header {
    /* line 0: identity. Written once by the creator; magic last, with release. */
    uint64_t magic;
    uint32_t abi_version;
    uint32_t header_size;
    uint64_t total_size; /* exact size of the file */
    uint32_t flags;      /* MARLLB_FLAG_* */
    uint32_t max_as;
    uint32_t ring_slots;
    uint32_t msg_out_size;
    uint32_t msg_in_size;
    uint32_t reservoir_data_size;
    uint64_t reserved0[2];
    /* line 1: section table */
    uint64_t ring_offset;
    uint64_t ring_size;
    uint64_t action_offset;
    uint64_t action_size;
    uint64_t reservoir_offset; /* 0 when the region has no raw reservoirs */
    uint64_t reservoir_size;
    uint64_t reserved1[2];
    /* line 2: lifecycle. Written by the LB at create and at each reopen. */
    uint64_t generation;          /* 1 at create, +1 at each reopen by a restarted LB */
    uint64_t created_realtime_ns;
    uint64_t reopened_realtime_ns;
    uint64_t repaired_slots;      /* half-written slots repaired by reopens, in total */
    int32_t creator_pid;
    int32_t lb_pid; /* the LB process currently holding the region */
    uint64_t reserved2[3];
    /* line 3: LB heartbeat, alone on its line (stamped often; read by the agent) */
    uint64_t lb_heartbeat_ns; /* CLOCK_MONOTONIC; 0 = never */
    uint64_t reserved3[7];
    /* line 4: verdicts on the agent's actions (read by the agent, may be stale) */
    uint64_t applied_action_seq;   /* sequence_id of the action in force, 0 = none */
    uint64_t applied_action_ns;    /* CLOCK_MONOTONIC when it was applied */
    uint64_t actions_applied;
    uint64_t actions_rejected;
    uint64_t actions_stale;        /* well-formed but not newer than the one in force */
    uint64_t last_rejected_seq;
    uint32_t last_reject_reason;   /* marllb_action_reject_t */
    /* The LB's server set, declared at open and announced again when it changes (servers added
     * or drained). 0 = not declared (an LB that declares nothing, or a region of an older
     * build, which zero-filled these words): any num_servers in 1..64 is then accepted. */
    uint32_t num_servers;          /* actions with another num_servers: SERVER_COUNT */
    uint64_t server_set_seq;       /* first observation sequence id of the current set; actions
                                      answering an older observation: SERVER_SET */
    /* lines 5-6: rejections per reason */
    uint64_t rejects_by_reason[16];
} marllb_region_header_t;

typedef struct marllb_obs_slot {
    uint64_t lock; /* seqlock: 2*seq complete, odd while written, 0 empty or repaired */
    uint64_t reserved[5];
    /* copied under the lock, contiguous with msg */
    uint64_t publish_mono_ns; /* CLOCK_MONOTONIC when the writer began publishing */
    uint32_t generation;      /* header generation of the LB that wrote it */
    uint32_t reserved2;
    marllb_msg_out_t msg;
    uint8_t tail_pad[32];
} marllb_obs_slot_t;

typedef struct marllb_obs_ring {
    uint64_t published_seq; /* newest complete sequence id, stored with release */
    uint64_t reserved[7];
    marllb_obs_slot_t slots[MARLLB_RING_SLOTS];
} marllb_obs_ring_t;

typedef struct marllb_action_section {
    /* line 0: the only line the LB loads while nothing changes */
    uint64_t lock; /* seqlock: even when complete, odd while written; 0 = no action yet */
    uint64_t reserved0[7];
    /* line 1: agent liveness, alone on its line */
    uint64_t agent_heartbeat_ns; /* CLOCK_MONOTONIC; 0 = never */
    int32_t agent_pid;
    uint32_t reserved1;
    uint64_t attach_count;
    uint64_t actions_written;
    uint64_t reserved2[4];
    /* lines 2..: payload, copied under the lock; meta contiguous with msg. The LB reads
     * write_mono_ns, obs_generation, reserved4 and msg, and nothing else of this section but
     * the lock: an action whose meta is junk (a generation above the LB's, reserved4
     * non-zero) is rejected (MARLLB_ACTION_META); a write time later than the LB's clock when
     * it polls (junk, or an agent in another time namespace) is reported as 0, unknown; the
     * reserved words outside the meta are never read, so junk there is ignored. */
    uint64_t reserved3[6];
    uint64_t write_mono_ns;  /* CLOCK_MONOTONIC when the agent began writing */
    uint32_t obs_generation; /* generation of the observation the action answers */
    uint32_t reserved4;      /* 0 */
    marllb_msg_in_t msg;
    uint8_t tail_pad[40];
} marllb_action_section_t;

/* The action in force, as the LB last applied it, with the action lock value it last handled.
 * Two buffers, written alternately (buffer saves % 2, lock 2 * saves when complete), so an LB
 * killed while saving leaves the previous complete copy in the other. */
typedef struct marllb_saved_action {
    uint64_t lock; /* 2*n complete (n-th save), odd while written, 0 never written */
    uint64_t reserved[5];
    uint64_t write_mono_ns;  /* as in the action section */
    uint32_t obs_generation;
    uint32_t reserved2;
    marllb_msg_in_t msg;
    uint8_t tail_pad[40];
} marllb_saved_action_t;

typedef struct marllb_action_record {
    uint64_t handled_lock; /* the action section's lock value the LB last handled (verdict given) */
    uint64_t reserved[7];
    marllb_saved_action_t saved[2];
} marllb_action_record_t;

typedef struct marllb_reservoir_buffer {
    uint64_t lock; /* seqlock: 2*seq of the observation these samples belong to */
    uint64_t reserved[7];
    marllb_reservoir_data_t data;
} marllb_reservoir_buffer_t;

#define MARLLB_HEADER_OFFSET 0u
#define MARLLB_ACTION_RECORD_OFFSET 512u
#define MARLLB_RING_OFFSET 4096u
#define MARLLB_ACTION_OFFSET 16384u
#define MARLLB_RESERVOIR_OFFSET 20480u
#define MARLLB_ROUND_PAGE(x) (((x) + MARLLB_PAGE_SIZE - 1u) / MARLLB_PAGE_SIZE * MARLLB_PAGE_SIZE)
#define MARLLB_RESERVOIR_SECTION_SIZE \
    MARLLB_ROUND_PAGE(MARLLB_RESERVOIR_BUFFERS * sizeof(marllb_reservoir_buffer_t))
#define MARLLB_REGION_SIZE_BASE MARLLB_RESERVOIR_OFFSET
#define MARLLB_REGION_SIZE_WITH_RESERVOIRS (MARLLB_RESERVOIR_OFFSET + MARLLB_RESERVOIR_SECTION_SIZE)

/* ---- The layout is code: every size and offset asserted ------------------------------ */

MARLLB_STATIC_ASSERT(sizeof(float) == 4, "f32");
MARLLB_STATIC_ASSERT(sizeof(marllb_as_stats_t) == 44, "as_stats: 4 + 10*4");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, sequence_id) == 0, "msg_out");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, timestamp_us) == 8, "msg_out");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, active_as_bitmap) == 16, "msg_out");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, num_active_as) == 24, "msg_out");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, reserved) == 28, "msg_out");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_out_t, as_stats) == 32, "msg_out");
MARLLB_STATIC_ASSERT(sizeof(marllb_msg_out_t) == 2848, "msg_out_t is 2,848 bytes");
MARLLB_STATIC_ASSERT(sizeof(marllb_msg_out_t) % 8 == 0, "copied in 8-byte words");

MARLLB_STATIC_ASSERT(sizeof(marllb_alias_entry_t) == 8, "alias entry");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, sequence_id) == 0, "msg_in");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, timestamp_us) == 8, "msg_in");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, num_servers) == 16, "msg_in");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, reserved) == 20, "msg_in");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, weights) == 24, "msg_in");
MARLLB_STATIC_ASSERT(offsetof(marllb_msg_in_t, alias_table) == 280, "msg_in");
MARLLB_STATIC_ASSERT(sizeof(marllb_msg_in_t) == 792, "msg_in_t is 792 bytes (24-byte header)");
MARLLB_STATIC_ASSERT(sizeof(marllb_msg_in_t) % 8 == 0, "copied in 8-byte words");

MARLLB_STATIC_ASSERT(sizeof(marllb_reservoir_raw_t) == 1536, "reservoir raw");
MARLLB_STATIC_ASSERT(sizeof(marllb_reservoir_data_t) == 196608, "raw reservoirs: 196,608 bytes");

MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, ring_offset) == 64, "header line 1");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, generation) == 128, "header line 2");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, lb_heartbeat_ns) == 192, "header line 3");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, applied_action_seq) == 256, "header line 4");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, rejects_by_reason) == 320, "header line 5");
MARLLB_STATIC_ASSERT(sizeof(marllb_region_header_t) == 448, "header");
MARLLB_STATIC_ASSERT(sizeof(marllb_region_header_t) <= MARLLB_PAGE_SIZE, "header fits its page");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, num_servers) == 308, "header line 4: server count");
MARLLB_STATIC_ASSERT(offsetof(marllb_region_header_t, server_set_seq) == 312, "header line 4: server set");
MARLLB_STATIC_ASSERT(MARLLB_ACTION_REJECT_REASONS <= 16, "rejects_by_reason has room");

MARLLB_STATIC_ASSERT(offsetof(marllb_saved_action_t, write_mono_ns) == 48, "saved action meta");
MARLLB_STATIC_ASSERT(offsetof(marllb_saved_action_t, msg) == 64, "saved action payload");
MARLLB_STATIC_ASSERT(sizeof(marllb_saved_action_t) == 896, "saved action");
MARLLB_STATIC_ASSERT(offsetof(marllb_action_record_t, saved) == 64, "action record");
MARLLB_STATIC_ASSERT(sizeof(marllb_action_record_t) == 1856, "action record");
MARLLB_STATIC_ASSERT(MARLLB_ACTION_RECORD_OFFSET >= sizeof(marllb_region_header_t) &&
                         MARLLB_ACTION_RECORD_OFFSET % MARLLB_CACHE_LINE == 0,
                     "action record after the header, line-aligned");
MARLLB_STATIC_ASSERT(MARLLB_ACTION_RECORD_OFFSET + sizeof(marllb_action_record_t) <= MARLLB_RING_OFFSET,
                     "action record fits in the header's page");
MARLLB_STATIC_ASSERT(offsetof(marllb_obs_slot_t, publish_mono_ns) == 48, "slot meta");
MARLLB_STATIC_ASSERT(offsetof(marllb_obs_slot_t, msg) == 64, "slot payload on its own lines");
MARLLB_STATIC_ASSERT(sizeof(marllb_obs_slot_t) == 2944, "slot");
MARLLB_STATIC_ASSERT(sizeof(marllb_obs_slot_t) % MARLLB_CACHE_LINE == 0, "slots line-aligned");
MARLLB_STATIC_ASSERT(offsetof(marllb_obs_ring_t, slots) == MARLLB_CACHE_LINE,
                     "published_seq alone on its line: no false sharing with a slot");
MARLLB_STATIC_ASSERT(sizeof(marllb_obs_ring_t) == 11840, "ring");
MARLLB_STATIC_ASSERT(MARLLB_RING_OFFSET + sizeof(marllb_obs_ring_t) <= MARLLB_ACTION_OFFSET,
                     "ring fits before the action section");

MARLLB_STATIC_ASSERT(offsetof(marllb_action_section_t, agent_heartbeat_ns) == 64,
                     "agent heartbeat off the polled line");
MARLLB_STATIC_ASSERT(offsetof(marllb_action_section_t, write_mono_ns) == 176, "action meta");
MARLLB_STATIC_ASSERT(offsetof(marllb_action_section_t, msg) == 192, "action payload");
MARLLB_STATIC_ASSERT(sizeof(marllb_action_section_t) == 1024, "action section");
MARLLB_STATIC_ASSERT(MARLLB_ACTION_OFFSET + MARLLB_PAGE_SIZE == MARLLB_RESERVOIR_OFFSET,
                     "action section is one page");

MARLLB_STATIC_ASSERT(offsetof(marllb_reservoir_buffer_t, data) == 64, "reservoir payload");
MARLLB_STATIC_ASSERT(sizeof(marllb_reservoir_buffer_t) == 196672, "reservoir buffer");
MARLLB_STATIC_ASSERT(MARLLB_RESERVOIR_SECTION_SIZE == 397312, "reservoir section, page-rounded");
MARLLB_STATIC_ASSERT(MARLLB_REGION_SIZE_WITH_RESERVOIRS == 417792, "region with reservoirs");
MARLLB_STATIC_ASSERT(MARLLB_REGION_SIZE_WITH_RESERVOIRS < (1u << 20), "under the 1 MiB budget");
MARLLB_STATIC_ASSERT(MARLLB_RING_OFFSET % MARLLB_PAGE_SIZE == 0 &&
                         MARLLB_ACTION_OFFSET % MARLLB_PAGE_SIZE == 0 &&
                         MARLLB_RESERVOIR_OFFSET % MARLLB_PAGE_SIZE == 0,
                     "sections are page-aligned so each side can map the other's read-only");

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MARLLB_SHM_LAYOUT_H */
