// marllb_test_peer: the other process of the multi-process tests. Publishes or acts with
// self-checking payloads until its count is reached or it is killed.
//
//   marllb_test_peer create NAME              create NAME as its LB, then exit (a dead creator)
//   marllb_test_peer lb NAME [--count N]      reopen NAME as its LB and publish observations
//   marllb_test_peer agent NAME [--count N]   attach as agent; answer each new observation
//   marllb_test_peer create-loop NAME         create NAME, close, remove it, again, until killed
//   marllb_test_peer lb-serve NAME [--count N] [--ms M]
//                         open NAME as its LB (create or reopen), publish N observations, then
//                         poll actions every 100 us for M ms (0: until killed); exits with the
//                         sequence id of the action in force (0: none), 200+ on an error
//   marllb_test_peer agent-die-mid-write NAME --count K
//                         attach, write the action answering K, wait until the LB applied it,
//                         then begin another write and SIGKILL itself with the lock odd

#include "support/raw_region.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

using namespace marllb;

static int run_lb(const char *name, std::uint64_t count) {
    auto lb = shm::LbRegion::reopen(name);
    if (!lb) {
        std::fprintf(stderr, "peer lb: %s\n", lb.error().message.c_str());
        return 2;
    }
    marllb_msg_out_t msg;
    for (std::uint64_t i = 0; count == 0 || i < count; ++i) {
        const std::uint64_t seq = lb->next_sequence();
        measure::fill_observation(msg, seq);
        if (lb->publish(msg) != seq) return 3;
        lb->heartbeat();
    }
    return 0;
}

static int run_agent(const char *name, std::uint64_t count) {
    auto agent = shm::AgentRegion::attach(name);
    if (!agent) {
        std::fprintf(stderr, "peer agent: %s\n", agent.error().message.c_str());
        return 2;
    }
    marllb_observation_t obs;
    marllb_msg_in_t action;
    std::uint64_t written = 0;
    while (count == 0 || written < count) {
        agent->heartbeat();
        if (agent->read_newest(obs) != shm::Errc::ok) continue; // again: nothing newer
        measure::fill_action(action, obs.msg.sequence_id);
        if (agent->write_action(action, obs.generation) != shm::Errc::ok) return 3;
        written = obs.msg.sequence_id;
    }
    return 0;
}

static int run_lb_serve(const char *name, std::uint64_t count, std::uint64_t ms) {
    auto lb = shm::LbRegion::open(name);
    if (!lb) {
        std::fprintf(stderr, "peer lb-serve: %s\n", lb.error().message.c_str());
        return 200;
    }
    marllb_msg_out_t msg;
    for (std::uint64_t i = 0; i < count; ++i) {
        measure::fill_observation(msg, lb->next_sequence());
        (void)lb->publish(msg);
    }
    const std::uint64_t end = marllb_now_mono_ns() + ms * 1000000u;
    while (ms == 0 || marllb_now_mono_ns() < end) {
        (void)lb->poll_action();
        lb->heartbeat();
        usleep(100);
    }
    const marllb_msg_in_t *a = lb->action();
    if (a && !measure::action_intact(*a)) return 201; // applied something no agent wrote
    return a ? int(a->sequence_id) : 0;
}

static int run_agent_die_mid_write(const char *name, std::uint64_t seq) {
    auto agent = shm::AgentRegion::attach(name);
    if (!agent) {
        std::fprintf(stderr, "peer agent-die-mid-write: %s\n", agent.error().message.c_str());
        return 2;
    }
    while (agent->published_sequence() < seq) usleep(100);
    marllb_msg_in_t action;
    measure::fill_action(action, seq);
    if (agent->write_action(action, 1) != shm::Errc::ok) return 3;
    while (agent->verdicts().applied_action_seq != seq) usleep(100);
    // A write that never ends: the lock odd, a few payload words new, then death. Written
    // through a second mapping of the file, as the API never leaves a write unfinished.
    test::RawRegion raw(agent->path());
    if (!raw.ok()) return 5;
    auto *a = raw.action();
    __atomic_store_n(&a->lock, a->lock + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&a->msg.sequence_id, seq + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&a->msg.num_servers, 3u, __ATOMIC_RELAXED);
    std::raise(SIGKILL);
    return 4;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s lb|agent NAME [--count N]\n", argv[0]);
        return 64;
    }
    std::uint64_t count = 0, ms = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--count") == 0) count = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--ms") == 0) ms = std::strtoull(argv[i + 1], nullptr, 10);
    }
    if (std::strcmp(argv[1], "create") == 0) {
        auto lb = shm::LbRegion::create(argv[2]);
        if (!lb) std::fprintf(stderr, "peer create: %s\n", lb.error().message.c_str());
        return lb ? 0 : 2;
    }
    if (std::strcmp(argv[1], "create-loop") == 0) {
        for (;;) {
            {
                auto lb = shm::LbRegion::create(argv[2]);
                if (!lb) {
                    std::fprintf(stderr, "peer create-loop: %s\n", lb.error().message.c_str());
                    return 2;
                }
            }
            (void)shm::unlink_region(argv[2]);
        }
    }
    if (std::strcmp(argv[1], "lb") == 0) return run_lb(argv[2], count);
    if (std::strcmp(argv[1], "agent") == 0) return run_agent(argv[2], count);
    if (std::strcmp(argv[1], "lb-serve") == 0) return run_lb_serve(argv[2], count, ms);
    if (std::strcmp(argv[1], "agent-die-mid-write") == 0) return run_agent_die_mid_write(argv[2], count);
    std::fprintf(stderr, "unknown role '%s': use lb or agent\n", argv[1]);
    return 64;
}
