/* The C API from a C11 program, as a VPP plugin would use it: both roles through opaque
 * handles, status codes and marllb_last_error(). Each section says what it proves; a failed
 * check is printed with the library's last error, and the program exits non-zero.
 * What it cannot prove: concurrency (one thread plays both roles; see test_stress.cpp). */
#include <marllb/shm.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (%s)\n", __FILE__, __LINE__, #cond, \
                    marllb_last_error());                                             \
            ++failures;                                                               \
        }                                                                             \
    } while (0)
#define HAS(text) (strstr(marllb_last_error(), (text)) != NULL)

static void region_name(char *out, size_t n, const char *tag) {
    snprintf(out, n, "marllb_test_c_%s_%d", tag, (int)getpid());
}

static void observation(marllb_msg_out_t *m, uint32_t flows) {
    memset(m, 0, sizeof *m);
    m->num_active_as = 4;
    m->active_as_bitmap = 0xf;
    m->as_stats[0].n_flow_on = flows;
}

/* The region file mapped by the test itself, read-write: it stands in for an LB killed while
 * writing a slot, which the API never leaves behind. NULL if the file cannot be mapped. */
static marllb_obs_ring_t *raw_ring(const char *path, void **base, size_t size) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return NULL;
    *base = p;
    return (marllb_obs_ring_t *)((unsigned char *)p + MARLLB_RING_OFFSET);
}

/* Both roles end to end: publish, read, answer, apply, draw; a malformed action refused. */
static void test_roles(void) {
    char name[64];
    region_name(name, sizeof name, "roles");
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;

    /* attach before the LB exists: a distinct error and a sentence that says what to do */
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_E_NOENT);
    CHECK(HAS("start the LB first"));

    CHECK(marllb_lb_create(name, NULL, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;
    CHECK(marllb_lb_agent_pid(lb) == (int)getpid());
    CHECK(marllb_agent_lb_pid(agent) == (int)getpid());
    CHECK(marllb_agent_attached_pid(agent) == (int)getpid());
    CHECK(strcmp(marllb_lb_path(lb), marllb_agent_path(agent)) == 0);
    CHECK(strstr(marllb_lb_path(lb), name) != NULL);
    CHECK(marllb_lb_size(lb) == MARLLB_REGION_SIZE_BASE);
    CHECK(marllb_agent_size(agent) == MARLLB_REGION_SIZE_BASE);
    CHECK(marllb_lb_huge_pages(lb) == 0);

    marllb_msg_out_t obs;
    observation(&obs, 17);
    obs.as_stats[2].n_flow_on = 17;
    obs.as_stats[2].reservoir_features[MARLLB_FCT_P90] = 0.25f;
    CHECK(marllb_agent_published_seq(agent) == 0);
    marllb_lb_prefetch_next(lb); /* a hint: changes nothing a reader sees */
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 1);
    CHECK(marllb_agent_published_seq(agent) == 1);
    CHECK(marllb_lb_next_seq(lb) == 2);
    marllb_lb_heartbeat(lb);

    marllb_observation_t got;
    CHECK(marllb_agent_read_newest(agent, &got) == MARLLB_OK);
    CHECK(got.msg.sequence_id == 1);
    CHECK(got.msg.as_stats[2].n_flow_on == 17);
    CHECK(got.msg.as_stats[2].reservoir_features[MARLLB_FCT_P90] == 0.25f);
    CHECK(marllb_agent_last_returned(agent) == 1);
    CHECK(marllb_agent_read_newest(agent, &got) == MARLLB_E_AGAIN); /* never the same one twice */
    CHECK(marllb_agent_lb_alive(agent, 1000000000ull) == 1);

    marllb_msg_in_t act;
    memset(&act, 0, sizeof act);
    act.sequence_id = got.msg.sequence_id;
    act.num_servers = 4;
    act.weights[0] = 1; act.weights[1] = 1; act.weights[2] = 2; act.weights[3] = 0;
    CHECK(marllb_alias_build(act.weights, 4, act.alias_table) == MARLLB_OK);
    CHECK(marllb_agent_write_action(agent, &act, got.generation, NULL) == MARLLB_OK);

    marllb_action_reject_t why = MARLLB_ACTION_OK;
    CHECK(marllb_lb_action_generation(lb) == 0); /* nothing in force yet */
    CHECK(marllb_lb_poll_action(lb, &why) == MARLLB_POLL_APPLIED);
    CHECK(marllb_lb_poll_action(lb, &why) == MARLLB_POLL_UNCHANGED);
    const marllb_msg_in_t *in_force = marllb_lb_action(lb);
    CHECK(in_force != NULL && in_force->weights[2] == 2.0f);
    CHECK(marllb_lb_action_generation(lb) == 1);
    CHECK(marllb_lb_action_write_mono_ns(lb) != 0 && marllb_lb_action_write_mono_ns(lb) <= marllb_now_mono_ns());
    marllb_lb_counters_t c;
    marllb_lb_get_counters(lb, &c);
    CHECK(c.published == 1 && c.actions_applied == 1 && c.actions_rejected == 0 && c.actions_stale == 0);

    /* the data plane's O(1) draw: server 3 (weight 0) never comes up */
    uint64_t state = 1;
    int drawn[4] = {0, 0, 0, 0};
    if (in_force)
        for (int i = 0; i < 100000; ++i) ++drawn[marllb_alias_sample(in_force->alias_table, 4, marllb_rand64(&state))];
    CHECK(drawn[3] == 0);
    CHECK(drawn[2] > drawn[0]);

    /* a malformed action: refused before it is written, with a reason and a sentence */
    act.weights[1] = -1.0f;
    CHECK(marllb_agent_write_action(agent, &act, got.generation, &why) == MARLLB_E_REJECTED);
    CHECK(why == MARLLB_ACTION_WEIGHT_NEGATIVE);
    CHECK(HAS("negative"));

    marllb_verdicts_t v;
    marllb_agent_verdicts(agent, &v);
    CHECK(v.applied_action_seq == 1);
    CHECK(v.actions_applied == 1);
    CHECK(v.published_seq == 1);

    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
    CHECK(marllb_unlink(name, NULL) == MARLLB_E_NOENT);
}

/* struct_size is checked by every call that takes options: 0 and too small are refused, a
 * larger struct is accepted only when the bytes this library does not know are zero; unknown
 * flags and a non-zero reserved are refused. A refused call creates nothing. */
static void test_options(void) {
    char name[64];
    region_name(name, sizeof name, "opts");
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    marllb_options_t o;

    marllb_options_init(&o);
    CHECK(o.struct_size == sizeof o);
    CHECK(o.numa_node == -1 && o.flags == 0 && o.dir == NULL);

    o.struct_size = 0;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("marllb_lb_create") && HAS("never initialised") && HAS("marllb_options_init"));
    CHECK(lb == NULL);
    CHECK(marllb_agent_attach(name, &o, &agent) == MARLLB_E_INVAL); /* before looking for the region */
    CHECK(HAS("marllb_agent_attach") && HAS("struct_size is 0"));
    CHECK(marllb_lb_reopen(name, &o, &lb, NULL) == MARLLB_E_INVAL);
    CHECK(marllb_lb_open(name, &o, &lb, NULL) == MARLLB_E_INVAL);
    CHECK(marllb_unlink(name, &o) == MARLLB_E_INVAL);

    o.struct_size = (uint32_t)MARLLB_OPTIONS_MIN_SIZE - 1;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("smaller than any marllb_options_t"));
    CHECK(marllb_unlink(name, NULL) == MARLLB_E_NOENT); /* nothing was created */

    /* a caller built against a newer header: its options are longer */
    struct newer {
        marllb_options_t known;
        uint64_t newer_option;
    } big;
    memset(&big, 0, sizeof big);
    marllb_options_init(&big.known);
    big.known.struct_size = (uint32_t)sizeof big;
    big.known.flags = MARLLB_OPT_RAW_RESERVOIRS;
    CHECK(marllb_lb_create(name, &big.known, &lb) == MARLLB_OK); /* the newer option left at 0 */
    CHECK(lb != NULL && marllb_lb_has_reservoirs(lb) == 1);       /* and the known ones taken */
    marllb_lb_close(lb);
    lb = NULL;
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
    big.newer_option = 1;
    CHECK(marllb_lb_create(name, &big.known, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("newer than this library") && HAS("byte 24"));
    CHECK(marllb_unlink(name, NULL) == MARLLB_E_NOENT);

    marllb_options_init(&o);
    o.flags = MARLLB_OPT_GROUP_SHARED | 0x100u;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("0x100") && HAS("MARLLB_OPT_"));
    marllb_options_init(&o);
    o.num_servers = 65;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("num_servers is 65"));
    marllb_options_init(&o);
    o.numa_node = -2;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("numa_node is -2"));
    CHECK(marllb_unlink(name, NULL) == MARLLB_E_NOENT);

    /* NULL where a pointer is required, and a bad name */
    CHECK(marllb_lb_create(NULL, NULL, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("NULL"));
    CHECK(marllb_agent_attach(name, NULL, NULL) == MARLLB_E_INVAL);
    CHECK(marllb_lb_create("a/b", NULL, &lb) == MARLLB_E_INVAL);
    CHECK(HAS("without '/'"));
}

/* In-order reads count what was lost exactly, including losses a read that returned E_AGAIN
 * counted (pending until the next message); a reopened LB reports what it repaired, in the
 * call's report and in the handle's, and continues the sequence. */
static void test_read_next_and_reopen(void) {
    char name[64];
    region_name(name, sizeof name, "next");
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    CHECK(marllb_lb_create(name, NULL, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;

    marllb_reopen_report_t rep;
    memset(&rep, 0xff, sizeof rep);
    marllb_lb_reopen_report(lb, &rep); /* a new region: generation 1, nothing repaired */
    CHECK(rep.generation == 1 && rep.next_seq == 1 && rep.repaired_slots == 0 && rep.republished == 0);

    marllb_msg_out_t obs;
    for (uint32_t i = 1; i <= 5; ++i) {
        observation(&obs, i);
        CHECK(marllb_lb_publish(lb, &obs, NULL) == i);
    }
    void *base = NULL;
    marllb_obs_ring_t *ring = raw_ring(marllb_lb_path(lb), &base, marllb_lb_size(lb));
    CHECK(ring != NULL);
    if (!ring) return;
    /* The LB dies writing 6 over the slot of 2. */
    ring->slots[(6 - 1) % MARLLB_RING_SLOTS].lock = 2 * 6 - 1;
    marllb_lb_close(lb);

    memset(&rep, 0xff, sizeof rep);
    CHECK(marllb_lb_reopen(name, NULL, &lb, &rep) == MARLLB_OK);
    if (!lb) return;
    CHECK(rep.generation == 2);
    CHECK(rep.next_seq == 6);
    CHECK(rep.repaired_slots == 1);
    CHECK(rep.republished == 0);
    marllb_reopen_report_t kept;
    marllb_lb_reopen_report(lb, &kept);
    CHECK(memcmp(&kept, &rep, sizeof rep) == 0);
    CHECK(marllb_lb_generation(lb) == 2 && marllb_lb_next_seq(lb) == 6);

    marllb_lb_t *second = NULL;
    CHECK(marllb_lb_reopen(name, NULL, &second, NULL) == MARLLB_E_BUSY); /* one LB per region */
    CHECK(HAS("live LB") && second == NULL);

    /* 1 wrapped, 2 destroyed by the half write: the first message in order is 3, lost 2 */
    marllb_observation_t got;
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_OK);
    CHECK(got.msg.sequence_id == 3 && got.msg.as_stats[0].n_flow_on == 3);
    CHECK(got.lost == 2);
    CHECK(marllb_agent_total_lost(agent) == 2 && marllb_agent_pending_lost(agent) == 0);
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_OK && got.msg.sequence_id == 4 && got.lost == 0);
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_OK && got.msg.sequence_id == 5 && got.lost == 0);
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_E_AGAIN);
    CHECK(marllb_agent_last_returned(agent) == 5);

    /* 6 and 7 published, then both slots found mid-write: lost, but nothing to report them with */
    observation(&obs, 6);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 6);
    observation(&obs, 7);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 7);
    const uint64_t saved6 = ring->slots[(6 - 1) % MARLLB_RING_SLOTS].lock;
    const uint64_t saved7 = ring->slots[(7 - 1) % MARLLB_RING_SLOTS].lock;
    ring->slots[(6 - 1) % MARLLB_RING_SLOTS].lock = 2 * 10 - 1;
    ring->slots[(7 - 1) % MARLLB_RING_SLOTS].lock = 2 * 11 - 1;
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_E_AGAIN);
    CHECK(marllb_agent_pending_lost(agent) == 2);
    CHECK(marllb_agent_total_lost(agent) == 4);
    ring->slots[(6 - 1) % MARLLB_RING_SLOTS].lock = saved6;
    ring->slots[(7 - 1) % MARLLB_RING_SLOTS].lock = saved7;
    observation(&obs, 8);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 8);
    CHECK(marllb_agent_read_next(agent, &got) == MARLLB_OK);
    CHECK(got.msg.sequence_id == 8 && got.lost == 2); /* the pending two, reported now */
    CHECK(got.generation == 2);
    CHECK(marllb_agent_pending_lost(agent) == 0 && marllb_agent_total_lost(agent) == 4);
    /* returned + lost == published: 3, 4, 5, 8 returned; 1, 2, 6, 7 lost */
    CHECK(4 + marllb_agent_total_lost(agent) == marllb_agent_published_seq(agent));
    CHECK(marllb_agent_total_fallbacks(agent) == 0);

    munmap(base, marllb_lb_size(lb));
    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
}

static void fill_reservoirs(marllb_reservoir_data_t *r, uint64_t seq) {
    for (uint32_t s = 0; s < MARLLB_MAX_AS; ++s)
        for (uint32_t k = 0; k < MARLLB_RESERVOIR_CAPACITY; ++k) {
            r->fct[s].values[k] = (float)(seq * 1000 + s) + (float)k / 256.0f;
            r->fct[s].timestamps[k] = (seq << 32) | (s << 8) | k;
            r->flow_duration[s].values[k] = -(float)(seq * 1000 + s) - (float)k / 256.0f;
            r->flow_duration[s].timestamps[k] = (seq << 40) | (s << 8) | k;
        }
}

/* Raw reservoirs come back exactly as published with their observation; overwritten ones and
 * ones never published say E_GONE, unpublished ids and regions without reservoirs E_INVAL. */
static void test_reservoirs(void) {
    static marllb_reservoir_data_t raw, got, want;
    char name[64], plain[64];
    region_name(name, sizeof name, "res");
    region_name(plain, sizeof plain, "nores");
    marllb_options_t o;
    marllb_options_init(&o);
    o.flags = MARLLB_OPT_RAW_RESERVOIRS;
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    CHECK(marllb_lb_create(name, &o, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;
    CHECK(marllb_lb_has_reservoirs(lb) == 1 && marllb_agent_has_reservoirs(agent) == 1);
    CHECK(marllb_lb_size(lb) == MARLLB_REGION_SIZE_WITH_RESERVOIRS);
    CHECK(marllb_agent_size(agent) == MARLLB_REGION_SIZE_WITH_RESERVOIRS);

    marllb_msg_out_t obs;
    for (uint64_t seq = 1; seq <= 3; ++seq) {
        observation(&obs, (uint32_t)seq);
        fill_reservoirs(&raw, seq);
        CHECK(marllb_lb_publish(lb, &obs, &raw) == seq);
    }
    /* two buffers: 2 and 3 readable, 1 overwritten by 3 */
    for (uint64_t seq = 2; seq <= 3; ++seq) {
        memset(&got, 0, sizeof got);
        CHECK(marllb_agent_read_reservoirs(agent, seq, &got) == MARLLB_OK);
        fill_reservoirs(&want, seq);
        CHECK(memcmp(&got, &want, sizeof got) == 0);
    }
    CHECK(marllb_agent_read_reservoirs(agent, 1, &got) == MARLLB_E_GONE);
    CHECK(HAS("read a newer observation"));
    CHECK(marllb_agent_read_reservoirs(agent, 4, &got) == MARLLB_E_INVAL);
    CHECK(HAS("has not been published"));
    CHECK(marllb_agent_read_reservoirs(agent, 0, &got) == MARLLB_E_INVAL);
    observation(&obs, 4);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 4); /* without reservoirs */
    CHECK(marllb_agent_read_reservoirs(agent, 4, &got) == MARLLB_E_GONE);
    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);

    CHECK(marllb_lb_create(plain, NULL, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(plain, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;
    CHECK(marllb_lb_has_reservoirs(lb) == 0 && marllb_agent_has_reservoirs(agent) == 0);
    observation(&obs, 1);
    CHECK(marllb_lb_publish(lb, &obs, &raw) == 0); /* nothing published */
    CHECK(HAS("MARLLB_OPT_RAW_RESERVOIRS"));
    CHECK(marllb_lb_next_seq(lb) == 1 && marllb_agent_published_seq(agent) == 0);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 1);
    CHECK(marllb_agent_read_reservoirs(agent, 1, &got) == MARLLB_E_INVAL);
    CHECK(HAS("created without raw reservoirs"));
    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(plain, NULL) == MARLLB_OK);
}

/* Every malformed action is named by marllb_action_validate, refused by write_action before it
 * is written (the LB's poll sees nothing), and bad alias_build input is refused. */
static void test_validation(void) {
    char name[64];
    region_name(name, sizeof name, "valid");
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    CHECK(marllb_lb_create(name, NULL, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;
    marllb_msg_out_t obs;
    observation(&obs, 1);
    for (int i = 0; i < 3; ++i) marllb_lb_publish(lb, &obs, NULL); /* newest: 3 */

    marllb_msg_in_t good;
    memset(&good, 0, sizeof good);
    good.sequence_id = 3;
    good.num_servers = 4;
    for (int i = 0; i < 4; ++i) good.weights[i] = (float)(i + 1);
    CHECK(marllb_alias_build(good.weights, 4, good.alias_table) == MARLLB_OK);
    CHECK(marllb_action_validate(&good, 3) == MARLLB_ACTION_OK);

    struct {
        const char *what;
        marllb_action_reject_t want;
    } cases[] = {
        {"sequence 0", MARLLB_ACTION_SEQ_ZERO},
        {"sequence from the future", MARLLB_ACTION_SEQ_FROM_FUTURE},
        {"no servers", MARLLB_ACTION_NUM_SERVERS},
        {"65 servers", MARLLB_ACTION_NUM_SERVERS},
        {"NaN weight", MARLLB_ACTION_WEIGHT_NOT_FINITE},
        {"weight beyond num_servers", MARLLB_ACTION_WEIGHT_BEYOND_N},
        {"alias index out of range", MARLLB_ACTION_ALIAS_INDEX_RANGE},
        {"alias probability above 1", MARLLB_ACTION_ALIAS_PROB_RANGE},
        {"reserved set", MARLLB_ACTION_RESERVED_NONZERO},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        marllb_msg_in_t bad = good;
        switch (k) {
        case 0: bad.sequence_id = 0; break;
        case 1: bad.sequence_id = 4; break;
        case 2: bad.num_servers = 0; break;
        case 3: bad.num_servers = 65; break;
        case 4: bad.weights[1] = NAN; break;
        case 5: bad.weights[4] = 1.0f; break;
        case 6: bad.alias_table[0].alias = 4; break;
        case 7: bad.alias_table[1].prob = 1.5f; break;
        default: bad.reserved = 1; break;
        }
        const marllb_action_reject_t got = marllb_action_validate(&bad, 3);
        if (got != cases[k].want) fprintf(stderr, "case '%s': reason %d\n", cases[k].what, (int)got);
        CHECK(got == cases[k].want);
        marllb_action_reject_t why = MARLLB_ACTION_OK;
        CHECK(marllb_agent_write_action(agent, &bad, 1, &why) == MARLLB_E_REJECTED);
        CHECK(why == cases[k].want);
        CHECK(HAS(marllb_reject_reason_str(cases[k].want)));
        CHECK(marllb_lb_poll_action(lb, NULL) == MARLLB_POLL_UNCHANGED); /* nothing was written */
    }
    CHECK(marllb_agent_write_action(agent, NULL, 1, NULL) == MARLLB_E_INVAL);
    CHECK(HAS("NULL"));
    marllb_verdicts_t v;
    marllb_agent_verdicts(agent, &v);
    CHECK(v.actions_applied == 0 && v.actions_rejected == 0); /* the LB never saw them */

    marllb_alias_entry_t table[MARLLB_MAX_AS];
    const float zeros[4] = {0, 0, 0, 0}, with_nan[2] = {1.0f, NAN}, negative[2] = {1.0f, -1.0f};
    CHECK(marllb_alias_build(good.weights, 0, table) == MARLLB_E_INVAL);
    CHECK(HAS("n is 0"));
    CHECK(marllb_alias_build(good.weights, MARLLB_MAX_AS + 1, table) == MARLLB_E_INVAL);
    CHECK(HAS("n is 65"));
    CHECK(marllb_alias_build(zeros, 4, table) == MARLLB_E_INVAL);
    CHECK(HAS("every weight is 0"));
    CHECK(marllb_alias_build(with_nan, 2, table) == MARLLB_E_INVAL);
    CHECK(HAS("weight 1 is nan"));
    CHECK(marllb_alias_build(negative, 2, table) == MARLLB_E_INVAL);
    CHECK(HAS("weight 1 is -1"));

    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
}

/* The LB declares its server count at open; the agent reads it and cannot write an action
 * for another count (marllb_action_validate_for says what the LB checks; the LB's own check
 * of raw bytes is in test_protocol.cpp); a new server set refuses actions answering the old one. */
static void test_server_count(void) {
    char name[64];
    region_name(name, sizeof name, "servers");
    marllb_options_t o;
    marllb_options_init(&o);
    o.num_servers = 7;
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    CHECK(marllb_lb_open(name, &o, &lb, NULL) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return;
    CHECK(marllb_lb_num_servers(lb) == 7 && marllb_agent_num_servers(agent) == 7);
    marllb_msg_out_t obs;
    memset(&obs, 0, sizeof obs);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 1);

    float w[8] = {1, 1, 1, 1, 2, 2, 2, 100};
    marllb_msg_in_t a;
    memset(&a, 0, sizeof a);
    a.sequence_id = 1;
    a.num_servers = 8;
    memcpy(a.weights, w, sizeof w);
    CHECK(marllb_alias_build(w, 8, a.alias_table) == MARLLB_OK);
    marllb_action_reject_t why = MARLLB_ACTION_OK;
    CHECK(marllb_agent_write_action(agent, &a, 1, &why) == MARLLB_E_REJECTED);
    CHECK(why == MARLLB_ACTION_SERVER_COUNT);
    CHECK(marllb_action_validate_for(&a, 1, 7, 1) == MARLLB_ACTION_SERVER_COUNT);
    CHECK(marllb_action_validate(&a, 1) == MARLLB_ACTION_OK); /* valid in itself */
    CHECK(marllb_lb_poll_action(lb, NULL) == MARLLB_POLL_UNCHANGED); /* nothing written */
    CHECK(strstr(marllb_reject_reason_str(MARLLB_ACTION_SERVER_COUNT), "server count") != NULL);

    a.num_servers = 7;
    a.weights[7] = 0;
    CHECK(marllb_alias_build(w, 7, a.alias_table) == MARLLB_OK);
    CHECK(marllb_agent_write_action(agent, &a, 1, NULL) == MARLLB_OK);
    CHECK(marllb_lb_poll_action(lb, NULL) == MARLLB_POLL_APPLIED);

    CHECK(marllb_lb_set_servers(lb, 0) == MARLLB_E_INVAL && HAS("1..64"));
    CHECK(marllb_lb_set_servers(lb, 6) == MARLLB_OK);
    CHECK(marllb_lb_action(lb) == NULL);
    CHECK(marllb_lb_server_set_seq(lb) == 2 && marllb_agent_server_set_seq(agent) == 2);
    CHECK(marllb_agent_num_servers(agent) == 6);
    a.num_servers = 6;
    a.weights[6] = 0;
    CHECK(marllb_alias_build(w, 6, a.alias_table) == MARLLB_OK);
    CHECK(marllb_agent_write_action(agent, &a, 1, &why) == MARLLB_E_REJECTED); /* answers observation 1 */
    CHECK(why == MARLLB_ACTION_SERVER_SET);
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 2);
    a.sequence_id = 2;
    CHECK(marllb_agent_write_action(agent, &a, 1, NULL) == MARLLB_OK);
    CHECK(marllb_lb_poll_action(lb, NULL) == MARLLB_POLL_APPLIED);
    CHECK(marllb_lb_action(lb) != NULL && marllb_lb_action(lb)->num_servers == 6);

    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_agent_attach(name, &o, &agent) == MARLLB_E_INVAL); /* num_servers is the LB's */
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
}

int main(void) {
    test_roles();
    test_options();
    test_read_next_and_reopen();
    test_reservoirs();
    test_validation();
    test_server_count();
    printf("c_api: %d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
