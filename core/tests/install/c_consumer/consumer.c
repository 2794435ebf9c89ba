/* consumer.c — a C program built outside the tree against an installed marllb-shm (plain gcc and
 * pkg-config; scripts/install_test.sh). Both roles in one process, on their own handles: the LB
 * publishes an observation, the agent reads it back and answers it, the LB applies the answer.
 * Exit 0 when every value came through as sent, 1 when one did not, 2 on a library error.
 *
 *   consumer REGION_NAME      (the region is unlinked at exit) */
#include <marllb/shm.h>

#include <stdio.h>
#include <string.h>

#define SERVERS 3u

static int fail(const char *what, int rc)
{
    fprintf(stderr, "c consumer: %s: %s (%s)\n", what, marllb_strerror(rc), marllb_last_error());
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s REGION_NAME\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    marllb_lb_t *lb = NULL;
    marllb_agent_t *agent = NULL;
    int rc = marllb_lb_create(name, NULL, &lb);
    if (rc != MARLLB_OK) return fail("marllb_lb_create", rc);
    rc = marllb_agent_attach(name, NULL, &agent);
    if (rc != MARLLB_OK) {
        marllb_lb_close(lb);
        marllb_unlink(name, NULL);
        return fail("marllb_agent_attach", rc);
    }

    int ok = 1;
    marllb_msg_out_t out;
    memset(&out, 0, sizeof out);
    out.num_active_as = SERVERS;
    out.active_as_bitmap = (1u << SERVERS) - 1u;
    for (uint32_t i = 0; i < SERVERS; ++i) out.as_stats[i].n_flow_on = 10u * (i + 1u);
    const uint64_t seq = marllb_lb_publish(lb, &out, NULL);

    marllb_observation_t obs;
    rc = marllb_agent_read_newest(agent, &obs);
    if (rc != MARLLB_OK) ok = 0, fprintf(stderr, "c consumer: read_newest: %s\n", marllb_strerror(rc));
    else if (obs.msg.sequence_id != seq || obs.msg.as_stats[2].n_flow_on != 30u || obs.msg.num_active_as != SERVERS)
        ok = 0, fprintf(stderr, "c consumer: observation %llu is not what was published\n",
                        (unsigned long long)obs.msg.sequence_id);

    const float weights[SERVERS] = {1.0f, 2.0f, 4.0f};
    marllb_msg_in_t action;
    memset(&action, 0, sizeof action);
    action.sequence_id = seq;
    action.num_servers = SERVERS;
    memcpy(action.weights, weights, sizeof weights);
    rc = marllb_alias_build(weights, SERVERS, action.alias_table);
    if (rc == MARLLB_OK) rc = marllb_agent_write_action(agent, &action, obs.generation, NULL);
    if (rc != MARLLB_OK) ok = 0, fprintf(stderr, "c consumer: write_action: %s\n", marllb_last_error());

    const int poll = marllb_lb_poll_action(lb, NULL);
    const marllb_msg_in_t *in_force = marllb_lb_action(lb);
    if (poll != MARLLB_POLL_APPLIED || !in_force || in_force->sequence_id != seq || in_force->weights[2] != 4.0f)
        ok = 0, fprintf(stderr, "c consumer: the action was not applied as written (poll %d)\n", poll);

    marllb_agent_close(agent);
    marllb_lb_close(lb);
    rc = marllb_unlink(name, NULL);
    if (rc != MARLLB_OK) return fail("marllb_unlink", rc);
    printf("c consumer: observation %llu published and read, its action applied: %s\n", (unsigned long long)seq,
           ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
