/* seed_vpp_plugin: a load balancer's data plane written as the seed sketches its VPP plugin,
 * with the seed's names (marllb/seed_compat.h): the region created at init, an observation
 * published on a timer, the action polled on every burst and drawn from per packet, the
 * region closed at exit. A small agent, forked at start, answers each observation it reads
 * with weights 1 / n_flow_on; the plugin checks every action it applies against the
 * observation it answers, so the program exits non-zero when anything on the way is wrong.
 *
 *   seed_vpp_plugin [--region NAME] [--publishes N] [--period-ms M] [--remove]
 *   e.g. seed_vpp_plugin --region marllb_lb0 --publishes 50 --period-ms 200
 *
 * --remove unlinks the region at exit (a real plugin leaves it for its restart). */
#define _GNU_SOURCE /* getopt_long, usleep, fork under -std=c11 */
#include <marllb/seed_compat.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVERS 4u

/* What the plugin reports for server i in observation seq: a pattern both sides can compute. */
static uint32_t flows_of(uint64_t seq, uint32_t i) { return (uint32_t)((seq * 7u + i * 3u) % 11u) + 1u; }

static void sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- The agent (its own process) ------------------------------------------------------ */

/* Answers every observation it reads until it has answered `last`. Exit 0, or 1 when an
 * observation was not what the plugin published, 2 when it could not attach or timed out. */
static int run_agent(const char *region, uint64_t last) {
    shm_agent_t *agent = NULL;
    for (int i = 0; i < 500 && !agent; ++i) { /* the plugin creates the region at its init */
        agent = shm_attach(region);
        if (!agent) sleep_ms(10);
    }
    if (!agent) {
        fprintf(stderr, "agent: %s\n", marllb_last_error());
        return 2;
    }
    uint64_t read = 0, bad = 0, seq = 0;
    const uint64_t give_up = marllb_now_mono_ns() + 30ull * 1000000000ull;
    while (seq < last && marllb_now_mono_ns() < give_up) {
        msg_out_t obs;
        if (shm_read_observation(agent, &obs) != 1) {
            sleep_ms(1);
            continue;
        }
        ++read;
        seq = obs.sequence_id;
        float w[SERVERS];
        int intact = obs.num_active_as == SERVERS && obs.active_as_bitmap == (1u << SERVERS) - 1u;
        for (uint32_t i = 0; i < SERVERS; ++i) {
            const uint32_t n = obs.as_stats[i].n_flow_on;
            intact = intact && n == flows_of(seq, i) &&
                     obs.as_stats[i].reservoir_features[MARLLB_FCT_MEAN] == 0.01f * (float)n;
            w[i] = 1.0f / (float)n; /* fewer flows, more weight */
        }
        if (!intact) {
            ++bad;
            fprintf(stderr, "agent: observation %llu is not what the plugin published\n", (unsigned long long)seq);
            continue;
        }
        if (shm_write_action(agent, seq, w, SERVERS) != MARLLB_OK)
            fprintf(stderr, "agent: action for %llu not written: %s\n", (unsigned long long)seq, marllb_last_error());
    }
    marllb_agent_close(agent);
    printf("agent: %llu observations read, %llu not as published, last %llu\n", (unsigned long long)read,
           (unsigned long long)bad, (unsigned long long)seq);
    fflush(stdout); /* the child ends with _exit, which flushes nothing */
    return bad ? 1 : seq >= last ? 0 : 2;
}

/* ---- The plugin ----------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *region = "marllb_lb0";
    unsigned publishes = 50, period_ms = 200;
    int remove_at_exit = 0;
    static const struct option longopts[] = {{"region", required_argument, NULL, 'r'},
                                             {"publishes", required_argument, NULL, 'n'},
                                             {"period-ms", required_argument, NULL, 'p'},
                                             {"remove", no_argument, NULL, 'x'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    opterr = 0; /* one line of our own for a bad option, exit 2 */
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 'r': region = optarg; break;
        case 'n': publishes = (unsigned)strtoul(optarg, &end, 10); break;
        case 'p': period_ms = (unsigned)strtoul(optarg, &end, 10); break;
        case 'x': remove_at_exit = 1; break;
        case 'h':
            printf("usage: %s [--region NAME (marllb_lb0)] [--publishes N (50)] [--period-ms M (200)] [--remove]\n"
                   "e.g. %s --region marllb_lb0 --publishes 50 --period-ms 200\n", argv[0], argv[0]);
            return 0;
        default:
            fprintf(stderr, "%s: unknown option or missing value '%s' (run %s --help for the options)\n", argv[0],
                    argv[optind - 1], argv[0]);
            return 2;
        }
        if (end && (*end != '\0' || end == optarg)) {
            fprintf(stderr, "%s: '%s' is not a whole number (run %s --help for the options)\n", argv[0], optarg, argv[0]);
            return 2;
        }
    }
    if (publishes == 0 || period_ms == 0 || period_ms > 60000) {
        fprintf(stderr, "%s: --publishes must be >= 1 and --period-ms in 1..60000\n", argv[0]);
        return 2;
    }

    /* init: the region, created (or reopened after a restart: ids continue) */
    shm_region_t *shm = shm_create_servers(region, sizeof(shm_data_t), SERVERS);
    if (!shm) {
        fprintf(stderr, "plugin: %s\n", marllb_last_error());
        return 2;
    }
    const uint64_t first = marllb_lb_next_seq(shm), last = first + publishes - 1;
    fflush(stdout);
    const pid_t agent = fork();
    if (agent < 0) {
        perror("fork");
        return 2;
    }
    if (agent == 0) {
        /* the agent attaches its own handle; it never touches the plugin's */
        _exit(run_agent(region, last));
    }

    uint64_t published = 0, last_applied = 0, applied = 0, mismatched = 0, bursts = 0;
    uint64_t drawn[SERVERS] = {0}, rng = 42;
    const uint64_t period_ns = (uint64_t)period_ms * 1000000ull;
    uint64_t next_publish = marllb_now_mono_ns();
    const uint64_t give_up = next_publish + (uint64_t)publishes * period_ns + 5ull * 1000000000ull;
    while (last_applied < last && marllb_now_mono_ns() < give_up) {
        /* the timer: an observation of the servers */
        if (published < publishes && marllb_now_mono_ns() >= next_publish) {
            msg_out_t obs;
            memset(&obs, 0, sizeof obs);
            const uint64_t seq = marllb_lb_next_seq(shm);
            obs.num_active_as = SERVERS;
            obs.active_as_bitmap = (1u << SERVERS) - 1u;
            for (uint32_t i = 0; i < SERVERS; ++i) {
                obs.as_stats[i].n_flow_on = flows_of(seq, i);
                obs.as_stats[i].reservoir_features[MARLLB_FCT_MEAN] = 0.01f * (float)flows_of(seq, i);
            }
            if (shm_write_observation(shm, &obs) != seq) ++mismatched; /* the id it was given */
            ++published;
            next_publish += period_ns;
        }
        /* a burst: poll the action, then pick a server for each of its packets */
        const msg_in_t *action = shm_read_action(shm);
        if (action && action->sequence_id > last_applied) {
            int right = action->sequence_id >= first && action->sequence_id < first + published &&
                        action->num_servers == SERVERS;
            for (uint32_t i = 0; i < SERVERS && right; ++i)
                right = action->weights[i] == 1.0f / (float)flows_of(action->sequence_id, i);
            if (!right) {
                ++mismatched;
                fprintf(stderr, "plugin: action %llu does not answer its observation\n",
                        (unsigned long long)action->sequence_id);
            }
            last_applied = action->sequence_id;
            ++applied;
        }
        if (action)
            for (int p = 0; p < 32; ++p)
                ++drawn[marllb_alias_sample(action->alias_table, action->num_servers, marllb_rand64(&rng))];
        ++bursts;
        usleep(200); /* the rest of the burst's packet work */
    }

    int status = 0;
    while (waitpid(agent, &status, 0) < 0) {
    }
    const int agent_rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* exit: the region stays for a restarted plugin, unless asked to remove it */
    shm_close(shm);
    if (remove_at_exit) (void)marllb_unlink(region, NULL);

    printf("plugin: %llu published (%llu..%llu), %llu actions applied, last answers %llu, %llu not matching, "
           "%llu bursts; packets per server %llu %llu %llu %llu\n",
           (unsigned long long)published, (unsigned long long)first, (unsigned long long)last,
           (unsigned long long)applied, (unsigned long long)last_applied, (unsigned long long)mismatched,
           (unsigned long long)bursts, (unsigned long long)drawn[0], (unsigned long long)drawn[1],
           (unsigned long long)drawn[2], (unsigned long long)drawn[3]);
    int ok = 1;
    if (published != publishes) ok = 0, fprintf(stderr, "plugin: published %llu of %u\n", (unsigned long long)published, publishes);
    if (last_applied != last) ok = 0, fprintf(stderr, "plugin: the answer to the last observation (%llu) was never applied\n", (unsigned long long)last);
    if (mismatched) ok = 0;
    for (uint32_t i = 0; i < SERVERS; ++i)
        if (drawn[i] == 0) ok = 0, fprintf(stderr, "plugin: server %u (weight > 0) never drawn\n", i);
    if (agent_rc != 0) ok = 0, fprintf(stderr, "plugin: the agent exited with %d\n", agent_rc);
    return ok ? 0 : 1;
}
