// marllb_test_peer: the other process of the multi-process tests. Publishes or acts with
// self-checking payloads until its count is reached or it is killed.
//
//   marllb_test_peer create NAME              create NAME as its LB, then exit (a dead creator)
//   marllb_test_peer lb NAME [--count N]      reopen NAME as its LB and publish observations
//   marllb_test_peer agent NAME [--count N]   attach as agent; answer each new observation

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
        if (agent->read_newest(obs) != shm::Errc::ok || obs.msg.sequence_id <= written) continue;
        measure::fill_action(action, obs.msg.sequence_id);
        if (agent->write_action(action, obs.generation) != shm::Errc::ok) return 3;
        written = obs.msg.sequence_id;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s lb|agent NAME [--count N]\n", argv[0]);
        return 64;
    }
    std::uint64_t count = 0;
    for (int i = 3; i + 1 < argc; i += 2)
        if (std::strcmp(argv[i], "--count") == 0) count = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[1], "create") == 0) {
        auto lb = shm::LbRegion::create(argv[2]);
        if (!lb) std::fprintf(stderr, "peer create: %s\n", lb.error().message.c_str());
        return lb ? 0 : 2;
    }
    if (std::strcmp(argv[1], "lb") == 0) return run_lb(argv[2], count);
    if (std::strcmp(argv[1], "agent") == 0) return run_agent(argv[2], count);
    std::fprintf(stderr, "unknown role '%s': use lb or agent\n", argv[1]);
    return 64;
}
