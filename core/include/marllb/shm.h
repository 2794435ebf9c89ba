/*
 * marllb/shm.h — C API of the MARLLB shared-memory IPC, for a VPP plugin or any C program.
 *
 * One prefix (marllb_), opaque handles, no exceptions. Functions that can fail return 0 or a
 * negative marllb_status_t; marllb_last_error() then holds a sentence that says what was wrong
 * and what to do (thread-local, valid until the next failing call on the same thread).
 *
 * Roles are part of the names: marllb_lb_* run in the LB process only (one per region),
 * marllb_agent_* in the agent process only (one per region), everything else on any side.
 * Handles are not thread-safe: one thread uses a handle at a time (an overlapping
 * marllb_agent_write_action is refused with E_BUSY; other overlaps are not detected), and
 * only in the process that opened it. A handle argument must be one that open, create or
 * attach returned and that is not yet closed: NULL is not checked (the close calls accept it).
 * marllb_action_validate and marllb_action_validate_for have no error code to return, so
 * their action must not be NULL either; calls that return a status say E_INVAL for a NULL
 * name, out-pointer or action.
 */
#ifndef MARLLB_SHM_H
#define MARLLB_SHM_H

#include <marllb/shm_layout.h>

/* The library is built with hidden visibility: what this header declares is its interface. */
#pragma GCC visibility push(default)
#ifdef __cplusplus
extern "C" {
#endif

typedef enum marllb_status {
    MARLLB_OK = 0,
    MARLLB_E_NOENT = -1,    /* no region of that name */
    MARLLB_E_EXIST = -2,    /* create: a region of that name exists */
    MARLLB_E_MAGIC = -3,    /* not a marllb region (wrong magic) */
    MARLLB_E_VERSION = -4,  /* made by another ABI version */
    MARLLB_E_SIZE = -5,     /* file size disagrees with the header (truncated, other build) */
    MARLLB_E_LAYOUT = -6,   /* section table or message sizes disagree with this build */
    MARLLB_E_STALE = -7,    /* attach: the LB that owns the region is gone */
    MARLLB_E_BUSY = -8,     /* another live process holds this role on the region */
    MARLLB_E_NOTREADY = -9, /* the region is being created; try again */
    MARLLB_E_NOSPC = -10,   /* /dev/shm (or the chosen directory) is full */
    MARLLB_E_PERM = -11,    /* permission denied */
    MARLLB_E_INVAL = -12,   /* bad argument */
    MARLLB_E_AGAIN = -13,   /* nothing new, or every candidate slot was being written */
    MARLLB_E_GONE = -14,    /* the data asked for is not there and never will be (overwritten) */
    MARLLB_E_NOMEM = -15,
    MARLLB_E_REJECTED = -16, /* an action failed validation */
    MARLLB_E_SYSTEM = -17   /* another system error; marllb_last_error() names it */
} marllb_status_t;

/* ---- Options (forward compatible: always start from marllb_options_init) ------------ */

#define MARLLB_OPT_RAW_RESERVOIRS 0x1u /* create: add the raw reservoir section */
#define MARLLB_OPT_HUGEPAGES 0x2u      /* create: huge pages if `dir` is hugetlbfs (both sides then
                                          map the region read-write: the MMU cannot protect
                                          sections inside one huge page), else 4 KiB pages and
                                          a note (marllb_lb_notes) */
#define MARLLB_OPT_GROUP_SHARED 0x4u   /* create: mode 0660 instead of 0600 */
#define MARLLB_OPT_ALLOW_STALE 0x8u    /* attach: accept a region whose LB is gone */

typedef struct marllb_options {
    uint32_t struct_size; /* sizeof(marllb_options_t), set by marllb_options_init */
    uint32_t flags;       /* MARLLB_OPT_* */
    int32_t numa_node;    /* create: bind the region's memory to this NUMA node; -1 = no */
    uint32_t num_servers; /* LB side (create, reopen, open): the LB's server count, 1..64; the
                             LB refuses actions for another count (MARLLB_ACTION_SERVER_COUNT).
                             0 = not declared: any count is accepted. Attach, unlink: 0 */
    const char *dir;      /* directory of the region file; NULL = "/dev/shm" */
} marllb_options_t;

/* Sets every field to its default, struct_size to sizeof(marllb_options_t) of the header the
 * caller was compiled with. Every function that takes options (NULL = defaults) checks them
 * and returns MARLLB_E_INVAL, with a sentence in marllb_last_error(), when:
 *   - struct_size is 0 (never initialised) or smaller than MARLLB_OPTIONS_MIN_SIZE (the first
 *     published layout: nothing older exists);
 *   - struct_size is larger than this library's sizeof(marllb_options_t) (a caller built
 *     against a newer header) and any byte beyond the fields this library knows is non-zero:
 *     a newer option left at its default (zero) is accepted, one that was set is refused
 *     rather than silently ignored;
 *   - flags holds a bit that is not a MARLLB_OPT_*, numa_node is below -1, or num_servers is
 *     above 64 (or not 0 for marllb_agent_attach and marllb_unlink). */
#define MARLLB_OPTIONS_MIN_SIZE (offsetof(marllb_options_t, dir) + sizeof(const char *))
void marllb_options_init(marllb_options_t *opts);

/* ---- Errors -------------------------------------------------------------------------- */

const char *marllb_strerror(int status);
const char *marllb_last_error(void);
const char *marllb_reject_reason_str(marllb_action_reject_t reason);

/* ---- Clocks ---------------------------------------------------------------------------- */

uint64_t marllb_now_mono_ns(void);     /* CLOCK_MONOTONIC, shared by all processes */
uint64_t marllb_now_realtime_us(void); /* CLOCK_REALTIME microseconds */

/* ---- LB side ---------------------------------------------------------------------------- */

typedef struct marllb_lb marllb_lb_t;

typedef struct marllb_reopen_report {
    uint64_t generation;     /* the generation this LB runs as */
    uint64_t next_seq;       /* first sequence id it will publish */
    uint32_t repaired_slots; /* half-written slots found and emptied */
    uint32_t republished;    /* 1 if a complete but unpublished slot was published */
} marllb_reopen_report_t;

/* Create a new region: built and initialised with no name (O_TMPFILE), then named atomically,
 * so no process ever sees it half-made. Zero-filled, pre-allocated. LB side only.
 * Errors: E_EXIST (a region of that name exists: reopen it, or marllb_unlink it),
 * E_NOSPC, E_PERM, E_INVAL (bad name or options), E_BUSY, E_SYSTEM. */
int marllb_lb_create(const char *name, const marllb_options_t *opts, marllb_lb_t **out);

/* Reopen the region of a previous LB process that is gone: sequence ids continue from what
 * the region holds, half-written slots are repaired, the generation is bumped. LB side only.
 * Errors: E_NOENT, E_MAGIC, E_VERSION, E_SIZE, E_LAYOUT, E_BUSY (an LB still holds it),
 * E_NOTREADY, E_PERM, E_INVAL (bad name or options), E_SYSTEM. `report` may be NULL. */
int marllb_lb_reopen(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                     marllb_reopen_report_t *report);

/* Reopen if the region exists, create it otherwise. A file an interrupted create left at the
 * name (empty, or magic 0) with no LB holding it is replaced by a new region, and
 * marllb_lb_notes says so. Same errors as the two above. */
int marllb_lb_open(const char *name, const marllb_options_t *opts, marllb_lb_t **out,
                   marllb_reopen_report_t *report);

/* Unmap and release the LB role; the region stays for a restarted LB. NULL is ignored. */
void marllb_lb_close(marllb_lb_t *lb);

/* What this handle's LB found when it took the region: for a reopen, the generation, the next
 * sequence id, the slots it repaired and whether it published a completed slot; for a new
 * region, generation 1 and next_seq 1. The same report marllb_lb_reopen and marllb_lb_open
 * fill, kept for the handle's life. */
void marllb_lb_reopen_report(const marllb_lb_t *lb, marllb_reopen_report_t *out);

/* Publish an observation: sets msg->sequence_id (and timestamp_us if 0), copies it into the
 * next ring slot, then makes it the newest. With raw != NULL the raw reservoirs are published
 * first, tagged with the same sequence id. Never blocks. Returns the sequence id. */
uint64_t marllb_lb_publish(marllb_lb_t *lb, marllb_msg_out_t *msg,
                           const marllb_reservoir_data_t *raw);

/* Optional hint: fetch the next ring slot's cache lines for writing, so a publish shortly
 * after (e.g. one burst before a scheduled publish) does not wait for each line. No effect on
 * what readers see. */
void marllb_lb_prefetch_next(const marllb_lb_t *lb);
/* Optional, shortly before a publish whose answer will be applied: marllb_lb_prefetch_next,
 * plus the lines applying an action writes and the validation path (LbRegion::rehearse). */
void marllb_lb_rehearse(const marllb_lb_t *lb);

typedef enum marllb_poll {
    MARLLB_POLL_UNCHANGED = 0, /* nothing new: cost one cache-line load */
    MARLLB_POLL_APPLIED = 1,   /* a new valid action is now in force */
    MARLLB_POLL_REJECTED = 2,  /* a new action failed validation; the previous stays */
    MARLLB_POLL_STALE = 3,     /* a valid action not newer than the one in force */
    MARLLB_POLL_BUSY = 4       /* the agent is writing (or died writing); try next burst */
} marllb_poll_t;

/* Poll the action slot; call on every burst. Returns a marllb_poll_t; on REJECTED,
 * *reason (if not NULL) says why. Never blocks. The first poll after a reopen returns APPLIED
 * with the action the previous LB had in force (kept in the region, validated again). */
int marllb_lb_poll_action(marllb_lb_t *lb, marllb_action_reject_t *reason);

/* The action in force (LB-private copy, stable until the next poll), or NULL if none. */
const marllb_msg_in_t *marllb_lb_action(const marllb_lb_t *lb);

/* Announce a new server set (servers added or drained), before publishing the first
 * observation of it: num_servers in 1..64 becomes the count actions must carry, and every
 * action answering an observation published before this call is refused
 * (MARLLB_ACTION_SERVER_SET), never applied to the new set. The action in force is dropped
 * (marllb_lb_action returns NULL until an action for the new set is applied): the LB falls
 * back to its own weights meanwhile. Errors: E_INVAL (num_servers not in 1..64). */
int marllb_lb_set_servers(marllb_lb_t *lb, uint32_t num_servers);
/* The declared server count (0 = not declared), and the first sequence id of its set. */
uint32_t marllb_lb_num_servers(const marllb_lb_t *lb);
uint64_t marllb_lb_server_set_seq(const marllb_lb_t *lb);

void marllb_lb_heartbeat(marllb_lb_t *lb);
/* 1 if the agent stamped its heartbeat within timeout_ns, else 0. */
int marllb_lb_agent_alive(const marllb_lb_t *lb, uint64_t timeout_ns);
uint64_t marllb_lb_generation(const marllb_lb_t *lb);
/* The sequence id the next marllb_lb_publish will give (the newest published is one less). */
uint64_t marllb_lb_next_seq(const marllb_lb_t *lb);
/* Of the action in force (0 if none): the generation of the observation it answered, and the
 * CLOCK_MONOTONIC time at which the agent began writing it. */
uint32_t marllb_lb_action_generation(const marllb_lb_t *lb);
uint64_t marllb_lb_action_write_mono_ns(const marllb_lb_t *lb);

/* Counters private to this LB handle (the header's verdict counters, which the agent reads,
 * are their shared view and survive a restart; these start at 0 with each handle). */
typedef struct marllb_lb_counters {
    uint64_t published;        /* observations published */
    uint64_t polls_busy;       /* polls that found the agent mid-write (MARLLB_POLL_BUSY) */
    uint64_t actions_applied;  /* MARLLB_POLL_APPLIED, including a re-adoption after reopen */
    uint64_t actions_rejected; /* MARLLB_POLL_REJECTED */
    uint64_t actions_stale;    /* MARLLB_POLL_STALE */
} marllb_lb_counters_t;
void marllb_lb_get_counters(const marllb_lb_t *lb, marllb_lb_counters_t *out);

/* 1 if the region has the raw reservoir section (publish may pass raw), else 0. */
int marllb_lb_has_reservoirs(const marllb_lb_t *lb);
/* 1 if the region lives on huge pages (MARLLB_OPT_HUGEPAGES on a hugetlbfs dir), else 0. */
int marllb_lb_huge_pages(const marllb_lb_t *lb);
/* The pid of the agent that attached last (0 if none ever did): for messages; the agent may
 * have exited since (marllb_lb_agent_alive says whether it is stamping its heartbeat). */
int marllb_lb_agent_pid(const marllb_lb_t *lb);
/* The region file's path, and its size in bytes. */
const char *marllb_lb_path(const marllb_lb_t *lb);
size_t marllb_lb_size(const marllb_lb_t *lb);
/* "" or a sentence on what create did differently from what was asked (no huge pages). */
const char *marllb_lb_notes(const marllb_lb_t *lb);

/* ---- Agent side ------------------------------------------------------------------------- */

typedef struct marllb_agent marllb_agent_t;

typedef struct marllb_observation {
    marllb_msg_out_t msg;
    uint64_t publish_mono_ns; /* when the LB began publishing it (CLOCK_MONOTONIC) */
    uint32_t generation;      /* generation of the LB that published it */
    uint32_t retries;         /* torn reads retried inside this call */
    uint64_t lost;            /* read_next: messages lost to wrap since the previous one returned
                                 (including those counted by calls that returned E_AGAIN) */
    uint64_t skipped;         /* read_newest: messages published since the last one returned */
    uint32_t fallback;        /* 1 if the newest slot was busy and an older one was returned */
    uint32_t reserved;
} marllb_observation_t;

/* Attach to an existing region as its agent. Validates size (before mapping), magic, ABI
 * version and layout; refuses a region whose LB is gone unless MARLLB_OPT_ALLOW_STALE.
 * Retries for up to ~200 ms while the region is being created (replaced by an LB).
 * Errors: E_NOENT, E_NOTREADY, E_MAGIC, E_VERSION, E_SIZE, E_LAYOUT, E_STALE, E_BUSY (another
 * agent is attached), E_PERM, E_INVAL (bad name or options), E_SYSTEM. */
int marllb_agent_attach(const char *name, const marllb_options_t *opts, marllb_agent_t **out);
void marllb_agent_close(marllb_agent_t *agent);

/* Optional, shortly before an observation is due: runs the read path over the last
 * observation returned (nothing returned, position kept) and fetches the action payload's
 * lines for writing (AgentRegion::rehearse). The LB side's counterpart: marllb_lb_prefetch_next. */
void marllb_agent_rehearse(const marllb_agent_t *agent);

/* The newest complete observation, newer than every one already returned (by this call or
 * read_next): a message is never returned twice. Errors: E_AGAIN (nothing newer published,
 * or every newer candidate was being overwritten). */
int marllb_agent_read_newest(marllb_agent_t *agent, marllb_observation_t *out);

/* The next observation in sequence order; out->lost counts those overwritten before they
 * could be read since the previous one returned, including those a call that returned
 * E_AGAIN counted (marllb_agent_pending_lost), so the sum of out->lost over returned messages
 * plus marllb_agent_pending_lost() is marllb_agent_total_lost(), exactly. Errors: E_AGAIN
 * (nothing new, or every newer slot was being overwritten: the count is kept). */
int marllb_agent_read_next(marllb_agent_t *agent, marllb_observation_t *out);

/* The newest published sequence id: one load, for polling before a read (a read is worth
 * calling when it exceeds marllb_agent_last_returned). */
uint64_t marllb_agent_published_seq(const marllb_agent_t *agent);
/* The newest sequence id returned by read_newest or read_next (0 before the first). */
uint64_t marllb_agent_last_returned(const marllb_agent_t *agent);
/* Messages read_next found overwritten, in total since attach. */
uint64_t marllb_agent_total_lost(const marllb_agent_t *agent);
/* Of those, the ones counted by read_next calls that returned E_AGAIN and not yet reported in
 * an out->lost (they will be, with the next message returned). */
uint64_t marllb_agent_pending_lost(const marllb_agent_t *agent);
/* Torn reads retried, and read_newest calls that returned an older slot, since attach. */
uint64_t marllb_agent_total_retries(const marllb_agent_t *agent);
uint64_t marllb_agent_total_fallbacks(const marllb_agent_t *agent);
/* 1 if the region has the raw reservoir section, else 0. */
int marllb_agent_has_reservoirs(const marllb_agent_t *agent);
/* The pid of the LB that holds (or last held) the region: for messages. */
int marllb_agent_lb_pid(const marllb_agent_t *agent);
/* The process that attached: the only one whose marllb_agent_write_action is accepted. */
int marllb_agent_attached_pid(const marllb_agent_t *agent);
/* The region file's path, and its size in bytes. */
const char *marllb_agent_path(const marllb_agent_t *agent);
size_t marllb_agent_size(const marllb_agent_t *agent);

/* Raw reservoirs of observation `seq`. Errors: E_INVAL (region has none, or seq not
 * published), E_GONE (overwritten, or seq was published without reservoirs: read a newer
 * observation). Never E_AGAIN: no answer for a published seq changes by waiting. */
int marllb_agent_read_reservoirs(marllb_agent_t *agent, uint64_t seq,
                                 marllb_reservoir_data_t *out);

/* The LB's declared server count (0 = not declared) and the first observation sequence id of
 * its current server set, as the LB last announced them (may be a moment old; read after an
 * observation, they are at least as new as that observation's set). */
uint32_t marllb_agent_num_servers(const marllb_agent_t *agent);
uint64_t marllb_agent_server_set_seq(const marllb_agent_t *agent);

/* Validate and write an action answering the observation (seq, generation). Invalid actions
 * are not written: returns E_REJECTED and *reason; that includes an action for another
 * server count than the LB declared, or answering an observation of a server set the LB has
 * replaced. E_BUSY: called from another address space than the one that attached (a child
 * forked after attach, which has its own copy of the handle, must attach its own once the
 * parent has closed), or while another thread writes on this handle. A vfork child or a
 * clone(CLONE_VM) task shares the attaching process's memory, and so the handle, as a thread
 * does: its writes are accepted, under the same one-writer-at-a-time guard. */
int marllb_agent_write_action(marllb_agent_t *agent, const marllb_msg_in_t *action,
                              uint32_t obs_generation, marllb_action_reject_t *reason);

/* Stamps "the agent is alive now". Does nothing in a child forked after attach: only the
 * attaching process speaks for the agent. */
void marllb_agent_heartbeat(marllb_agent_t *agent);
/* 1 if the LB stamped its heartbeat within timeout_ns, else 0. */
int marllb_agent_lb_alive(const marllb_agent_t *agent, uint64_t timeout_ns);

/* What the LB said of the agent's actions (snapshot; fields may be a moment old). */
typedef struct marllb_verdicts {
    uint64_t applied_action_seq;
    uint64_t applied_action_ns;
    uint64_t actions_applied;
    uint64_t actions_rejected;
    uint64_t actions_stale;
    uint64_t last_rejected_seq;
    uint32_t last_reject_reason;
    uint32_t reserved;
    uint64_t generation;
    uint64_t published_seq;
} marllb_verdicts_t;
void marllb_agent_verdicts(const marllb_agent_t *agent, marllb_verdicts_t *out);

/* ---- Any side --------------------------------------------------------------------------- */

/* Remove the region's name; mappings stay valid until closed. Errors: E_NOENT, E_PERM,
 * E_INVAL (bad name or options). */
int marllb_unlink(const char *name, const marllb_options_t *opts);

/* Check an action as the LB will. newest_seq: the newest published observation. The checks
 * read the action more than once: pass memory no other thread or process writes meanwhile
 * (the LB checks its private copy of the slot, never the slot itself). */
marllb_action_reject_t marllb_action_validate(const marllb_msg_in_t *action, uint64_t newest_seq);
/* The same, for an LB that declared num_servers (0 = not declared) with its current server
 * set first published at server_set_seq (0 = from the start). */
marllb_action_reject_t marllb_action_validate_for(const marllb_msg_in_t *action, uint64_t newest_seq,
                                                  uint32_t num_servers, uint64_t server_set_seq);

/* Vose's alias method: O(n) build from n weights (finite, >= 0, not all 0; 1 <= n <= 64).
 * Zero weights are never drawn. table holds MARLLB_MAX_AS entries: entries n..63 are zeroed,
 * as msg_in_t.alias_table expects. Returns 0 or MARLLB_E_INVAL (NULL, n out of range, a NaN,
 * infinite or negative weight, all zero; marllb_last_error() names which). */
int marllb_alias_build(const float *weights, uint32_t n, marllb_alias_entry_t *table);

/* O(1) draw from a table built for n entries, using 64 random bits. */
static inline uint32_t marllb_alias_sample(const marllb_alias_entry_t *table, uint32_t n,
                                           uint64_t random_bits)
{
    uint32_t i = (uint32_t)(((random_bits & 0xffffffffu) * (uint64_t)n) >> 32);
    float u = (float)(uint32_t)(random_bits >> 40) * (1.0f / 16777216.0f); /* 24 bits in [0, 1) */
    /* branch-free: the comparison is a coin flip, a branch on it would mispredict often */
    uint32_t keep = 0u - (uint32_t)(u < table[i].prob);
    return (i & keep) | (table[i].alias & ~keep);
}

/* A fast generator for marllb_alias_sample (wyrand); state is any 64-bit value. */
static inline uint64_t marllb_rand64(uint64_t *state)
{
    *state += UINT64_C(0xa0761d6478bd642f);
    __extension__ typedef unsigned __int128 marllb_u128;
    marllb_u128 m = (marllb_u128)(*state ^ UINT64_C(0xe7037ed1a0b428db)) * *state;
    return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

#ifdef __cplusplus
} /* extern "C" */
#endif
#pragma GCC visibility pop

#endif /* MARLLB_SHM_H */
