// World and LB in one thread, in lockstep on simulated time: every packet the world sends at
// t is handled by the LB at t and its forwarded copy reaches the servers at t. The fidelity
// tests run on it (no DPDK, no wall clock: exact and reproducible); marllb-sim runs the same
// exchange across two lcores.
#pragma once

#include "lb.hpp"
#include "world.hpp"

#include <functional>

namespace marllb::sim {

struct LockstepRun {
    World &world;
    LoadBalancer &lb;
    std::uint64_t publish_interval_ns = 200'000'000;
    std::function<void(std::uint64_t now)> on_publish; // called at each interval boundary

    // Runs until simulated time `until` (absolute ns) or until nothing is left to happen.
    void run(std::uint64_t start, std::uint64_t until) {
        std::uint8_t frame[kFrameLen];
        std::uint64_t next_publish = start + publish_interval_ns;
        std::vector<Packet> out;
        const auto emit = [&](const Packet &p) { out.push_back(p); };
        for (;;) {
            const std::uint64_t ev = world.next_event();
            const std::uint64_t t = std::min(ev, on_publish ? next_publish : UINT64_MAX);
            if (t > until || t == UINT64_MAX) break;
            out.clear();
            world.run_until(t, emit);
            for (const Packet &p : out) {
                build_frame(frame, p.key, p.flags, p.seq);
                if (lb.process(frame, kFrameLen, p.t_ns) >= 0) world.on_forwarded(frame, kFrameLen, p.t_ns);
            }
            if (on_publish && t >= next_publish) {
                on_publish(t);
                next_publish += publish_interval_ns;
            }
        }
    }
};

} // namespace marllb::sim
