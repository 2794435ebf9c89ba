// consumer.cpp — the C++ API (marllb/shm.hpp) from a CMake project outside the tree, against
// an installed marllb-shm. Both roles in one process: the LB publishes an observation, the
// agent reads it and answers, the LB applies the answer. Exit 0 when every value came through,
// 1 when one did not, 2 on a library error.
//
//   cxx_consumer REGION_NAME      (the region is unlinked at exit)
#include <marllb/shm.hpp>

#include <cstdio>

namespace shm = marllb::shm;

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s REGION_NAME\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    auto lb = shm::LbRegion::create(name);
    if (!lb) {
        std::fprintf(stderr, "cxx consumer: create: %s\n", lb.error().message.c_str());
        return 2;
    }
    auto agent = shm::AgentRegion::attach(name);
    if (!agent) {
        std::fprintf(stderr, "cxx consumer: attach: %s\n", agent.error().message.c_str());
        (void)shm::unlink_region(name);
        return 2;
    }

    bool ok = true;
    shm::MsgOut out{};
    out.num_active_as = 2;
    out.as_stats[1].n_flow_on = 7;
    const std::uint64_t seq = lb->publish(out);

    shm::Observation obs{};
    if (agent->read_newest(obs) != shm::Errc::ok || obs.msg.sequence_id != seq || obs.msg.as_stats[1].n_flow_on != 7)
        ok = false, std::fprintf(stderr, "cxx consumer: observation %llu not read as published\n",
                                 static_cast<unsigned long long>(seq));

    shm::MsgIn action{};
    action.sequence_id = seq;
    action.num_servers = 2;
    action.weights[0] = 1.0f;
    action.weights[1] = 3.0f;
    if (marllb_alias_build(action.weights, 2, action.alias_table) != MARLLB_OK ||
        agent->write_action(action, obs.generation) != shm::Errc::ok)
        ok = false, std::fprintf(stderr, "cxx consumer: action not written: %s\n", marllb_last_error());

    const shm::PollResult r = lb->poll_action();
    if (r.status != MARLLB_POLL_APPLIED || !lb->action() || lb->action()->weights[1] != 3.0f)
        ok = false, std::fprintf(stderr, "cxx consumer: action not applied (%s)\n", shm::describe(r.reason));

    agent->close();
    lb->close();
    if (!shm::unlink_region(name)) {
        std::fprintf(stderr, "cxx consumer: unlink failed\n");
        return 2;
    }
    std::printf("cxx consumer: observation %llu published and read, its action applied: %s\n",
                static_cast<unsigned long long>(seq), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
