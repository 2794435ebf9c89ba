// When the LB lcore publishes an observation and when it reads the agent's action slot, per
// LB model (docs/sim.md, LB-model table, row 11). The LB lcore asks after every burst; the
// answer depends only on the burst's time and size, so it is tested without DPDK.
//  marllb: MARLLB's plugin checks on every packet whether at least one interval (SHM_UPT_DT,
//          0.2 s) passed since the last publish; on the first packet that finds it so it
//          publishes, stamped with that packet's time, and only then reads the action slot
//          (node.c:509-517). No packet, no publish; publishes drift later by the gaps before
//          the first packet; an action written between publishes waits for the next publish.
//  clean:  a timer at start + k x interval (a publish stamped with the time it is found due,
//          with or without packets; one publish when several boundaries passed), and the
//          action slot read after every burst.
// Owned by the LB lcore alone.
#pragma once

#include "lb.hpp"

#include <cstdint>

namespace marllb::sim {

class PublishSchedule {
public:
    PublishSchedule(LbModel model, std::uint64_t interval_ns, std::uint64_t start_ns) noexcept
        : model_(model), interval_(interval_ns), next_(start_ns + interval_ns) {}

    struct Due {
        bool publish = false;      // publish an observation stamped `now`, before reading actions
        bool read_actions = false; // then poll the action slot (and apply what it holds)
    };

    // The LB handled `packets` packets (0: the poll found the ring empty) at `now` (ns).
    [[nodiscard]] Due after_burst(std::uint64_t now, unsigned packets) noexcept {
        Due d;
        if (model_ == LbModel::marllb) {
            // Every packet of a burst carries the burst's time, so its first packet is the one.
            if (packets > 0 && now >= next_) {
                d.publish = d.read_actions = true;
                next_ = now + interval_;
            }
            return d;
        }
        d.read_actions = true;
        if (now >= next_) {
            d.publish = true;
            next_ += interval_;
            if (next_ <= now) next_ = now + interval_; // fell behind: no burst of publishes
        }
        return d;
    }

    // The earliest time at which a publish can be due.
    [[nodiscard]] std::uint64_t next_publish() const noexcept { return next_; }
    [[nodiscard]] LbModel model() const noexcept { return model_; }

private:
    LbModel model_;
    std::uint64_t interval_;
    std::uint64_t next_;
};

} // namespace marllb::sim
