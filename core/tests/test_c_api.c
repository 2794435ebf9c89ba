/* The C API from a C11 program, as a VPP plugin would use it: both roles through opaque
 * handles, status codes and marllb_last_error(). Exits non-zero on the first failed check. */
#include <marllb/shm.h>

#include <stdio.h>
#include <string.h>
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

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "marllb_test_c_%d", (int)getpid());
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;

    /* attach before the LB exists: a distinct error and a sentence that says what to do */
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_E_NOENT);
    CHECK(strstr(marllb_last_error(), "start the LB first") != NULL);

    CHECK(marllb_lb_create(name, NULL, &lb) == MARLLB_OK);
    CHECK(marllb_agent_attach(name, NULL, &agent) == MARLLB_OK);
    if (!lb || !agent) return 1;

    marllb_msg_out_t obs;
    memset(&obs, 0, sizeof obs);
    obs.num_active_as = 4;
    obs.active_as_bitmap = 0xf;
    obs.as_stats[2].n_flow_on = 17;
    obs.as_stats[2].reservoir_features[MARLLB_FCT_P90] = 0.25f;
    marllb_lb_prefetch_next(lb); /* a hint: changes nothing a reader sees */
    CHECK(marllb_lb_publish(lb, &obs, NULL) == 1);
    marllb_lb_heartbeat(lb);

    marllb_observation_t got;
    CHECK(marllb_agent_read_newest(agent, &got) == MARLLB_OK);
    CHECK(got.msg.sequence_id == 1);
    CHECK(got.msg.as_stats[2].n_flow_on == 17);
    CHECK(got.msg.as_stats[2].reservoir_features[MARLLB_FCT_P90] == 0.25f);
    CHECK(marllb_agent_lb_alive(agent, 1000000000ull) == 1);

    marllb_msg_in_t act;
    memset(&act, 0, sizeof act);
    act.sequence_id = got.msg.sequence_id;
    act.num_servers = 4;
    act.weights[0] = 1; act.weights[1] = 1; act.weights[2] = 2; act.weights[3] = 0;
    CHECK(marllb_alias_build(act.weights, 4, act.alias_table) == MARLLB_OK);
    CHECK(marllb_agent_write_action(agent, &act, got.generation, NULL) == MARLLB_OK);

    marllb_action_reject_t why = MARLLB_ACTION_OK;
    CHECK(marllb_lb_poll_action(lb, &why) == MARLLB_POLL_APPLIED);
    CHECK(marllb_lb_poll_action(lb, &why) == MARLLB_POLL_UNCHANGED);
    const marllb_msg_in_t *in_force = marllb_lb_action(lb);
    CHECK(in_force != NULL && in_force->weights[2] == 2.0f);

    /* the data plane's O(1) draw: server 3 (weight 0) never comes up */
    uint64_t state = 1;
    int drawn[4] = {0, 0, 0, 0};
    for (int i = 0; i < 100000; ++i) ++drawn[marllb_alias_sample(in_force->alias_table, 4, marllb_rand64(&state))];
    CHECK(drawn[3] == 0);
    CHECK(drawn[2] > drawn[0]);

    /* a malformed action: refused before it is written, with a reason and a sentence */
    act.weights[1] = -1.0f;
    CHECK(marllb_agent_write_action(agent, &act, got.generation, &why) == MARLLB_E_REJECTED);
    CHECK(why == MARLLB_ACTION_WEIGHT_NEGATIVE);
    CHECK(strstr(marllb_last_error(), "negative") != NULL);

    marllb_verdicts_t v;
    marllb_agent_verdicts(agent, &v);
    CHECK(v.applied_action_seq == 1);
    CHECK(v.actions_applied == 1);

    marllb_agent_close(agent);
    marllb_lb_close(lb);
    CHECK(marllb_unlink(name, NULL) == MARLLB_OK);
    CHECK(marllb_unlink(name, NULL) == MARLLB_E_NOENT);

    printf("c_api: %d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
