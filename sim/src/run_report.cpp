#include "run_report.hpp"

#include "metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace marllb::sim {

void PublishGaps::add(std::uint64_t gap_ns) noexcept {
    ++count;
    sum_ns += gap_ns;
    min_ns = std::min(min_ns, gap_ns);
    max_ns = std::max(max_ns, gap_ns);
}

const char *describe(RunMode m) noexcept {
    switch (m) {
    case RunMode::realtime: return "realtime";
    case RunMode::lockstep: return "lockstep";
    case RunMode::flood: return "flood";
    }
    return "?";
}

void add_counters(LbCounters &t, const LbCounters &c) noexcept {
    t.packets += c.packets, t.forwarded += c.forwarded, t.flows += c.flows;
    t.flows_ended += c.flows_ended, t.flows_expired += c.flows_expired;
    t.untracked += c.untracked, t.untracked_syns += c.untracked_syns;
    t.repeated_syns += c.repeated_syns, t.bare_rsts += c.bare_rsts;
    t.guessed_fcts += c.guessed_fcts, t.negative_on += c.negative_on;
    t.actions_applied += c.actions_applied, t.fallbacks += c.fallbacks;
    for (std::size_t d = 0; d < kDropReasons; ++d) t.drops[d] += c.drops[d];
}

double lb_mpps(const RunReport &r) noexcept {
    if (r.mode == RunMode::flood) return r.flood.full_mpps;
    const double s = r.mode == RunMode::lockstep ? r.wall_s : r.duration_s;
    return s > 0 ? double(r.lb.packets) / s / 1e6 : 0;
}

namespace {

struct PublishCost {
    double p50_us, p99_us, max_us;
};

PublishCost cost_of(const std::vector<std::uint32_t> &c) {
    const double mx = c.empty() ? 0 : double(*std::max_element(c.begin(), c.end()));
    return {quantile(c, 0.5) / 1e3, quantile(c, 0.99) / 1e3, mx / 1e3};
}
PublishCost publish_cost(const RunReport &r) { return cost_of(r.publish_cost_ns); }

} // namespace

std::string summary_text(const RunReport &r) {
    std::string s;
    auto out = std::back_inserter(s);
    const bool flood = r.mode == RunMode::flood;
    fmt::format_to(out, "\nmarllb-sim {}: policy {}, servers {}, {} LB{}, {:.1f} s\n", describe(r.mode), describe(r.policy),
                   r.servers, r.lbs, r.lbs > 1 ? "s" : "", r.duration_s);
    fmt::format_to(out, "  {:<28} {} ({:.3f} Mpps{})\n", "packets at the LB", r.lb.packets, lb_mpps(r),
                   r.mode == RunMode::lockstep ? " of wall time" : "");
    if (flood) {
        const FloodRates &f = r.flood;
        fmt::format_to(out, "  {:<28} bare rx->tx {:.2f} Mpps, LB {:.2f} Mpps ({:.2f} of bare)\n", "throughput (64-byte frames)",
                       f.bare_mpps, f.full_mpps, f.bare_mpps > 0 ? f.full_mpps / f.bare_mpps : 0);
        fmt::format_to(out, "  {:<28} bare {:.1f} % empty, mean burst {:.1f}; LB {:.1f} % empty, mean burst {:.1f}\n",
                       "LB lcore rx polls", 100 * f.bare_empty_polls, f.bare_burst, 100 * f.full_empty_polls, f.full_burst);
        fmt::format_to(out, "  {:<28} busy {:.1f} % of the LB phase: capacity {:.2f} Mpps ({:.1f} ns per frame)\n",
                       "LB lcore", 100 * f.full_busy, f.full_capacity_mpps, f.full_capacity_mpps > 0 ? 1e3 / f.full_capacity_mpps : 0.0);
        fmt::format_to(out, "  {:<28} sent {:.2f} Mpps in the bare phase, {:.2f} Mpps in the LB phase\n", "world (generator)",
                       f.bare_gen_mpps, f.full_gen_mpps);
        fmt::format_to(out, "  {:<28} {:.1f} % of the world's bursts found the LB's input ring full\n", "backlog",
                       100 * f.full_ring_share);
        if (lb_saturated(f))
            fmt::format_to(out, "  {:<28} saturated: frames waited for the LB (full ring in >= {:.0f} % of bursts, busy >= {:.0f} %)\n",
                           "LB phase", 100 * kSaturatedFullRing, 100 * kSaturatedBusy);
        else
            fmt::format_to(out, "  {:<28} NOT saturated: no backlog (full ring in < {:.0f} % of bursts) or busy < {:.0f} %: "
                                "the generator set the rate; read the capacity\n",
                           "LB phase", 100 * kSaturatedFullRing, 100 * kSaturatedBusy);
    }
    fmt::format_to(out, "  {:<28} {} new, {} ended by RST, {} expired\n", "flows at the LB", r.lb.flows, r.lb.flows_ended,
                   r.lb.flows_expired);
    fmt::format_to(out, "  {:<28} {}: {} untracked packets ({} SYNs), {} guessed FCTs, {} n_flow_on < 0\n", "LB model",
                   describe(r.model), r.lb.untracked, r.lb.untracked_syns, r.lb.guessed_fcts, r.lb.negative_on);
    fmt::format_to(out, "  {:<28} {}", "drops", r.lb.dropped());
    for (std::size_t d = 1; d < kDropReasons; ++d)
        if (r.lb.drops[d]) fmt::format_to(out, ", {} {}", describe(Drop(d)), r.lb.drops[d]);
    fmt::format_to(out, "\n  {:<28} {} published, {} actions applied, {} rejected, {} fallbacks\n", "observations / actions",
                   r.published, r.lb.actions_applied, r.rejected, r.lb.fallbacks);
    const PublishCost pc = publish_cost(r);
    fmt::format_to(out, "  {:<28} p50 {:.2f} us, p99 {:.2f} us, max {:.2f} us ({} publishes)\n", "publish cost (features+copy)",
                   pc.p50_us, pc.p99_us, pc.max_us, r.publish_cost_ns.size());
    if (!r.publish_call_ns.empty()) {
        const PublishCost call = cost_of(r.publish_call_ns);
        fmt::format_to(out, "  {:<28} p50 {:.2f} us, p99 {:.2f} us, max {:.2f} us (the region's publish call alone)\n",
                       "publish call", call.p50_us, call.p99_us, call.max_us);
    }
    if (r.world) {
        const WorldCounters &wc = r.world->counters;
        const auto &fct = r.world->fct_s;
        fmt::format_to(out, "  {:<28} {} started, {} completed, {} reset by a full server, {} SYN timeouts\n", "client flows",
                       wc.flows_started, wc.flows_completed, wc.resets, wc.syn_timeouts);
        fmt::format_to(out, "  {:<28} p50 {:.1f} ms, p90 {:.1f} ms, p99 {:.1f} ms\n", "FCT (clients)", quantile(fct, 0.5) * 1e3,
                       quantile(fct, 0.9) * 1e3, quantile(fct, 0.99) * 1e3);
        fmt::format_to(out, "  {:<28} utilisation {:.4f}, flow-duration decayed mean {:.4f}\n", "Jain's index",
                       jain_index(r.world->utilisation), r.jain_duration);
    }
    if (r.gaps.count)
        fmt::format_to(out, "  {:<28} min {:.3f} ms, mean {:.3f} ms, max {:.3f} ms ({} model)\n", "gaps between publishes",
                       double(r.gaps.min_ns) / 1e6, double(r.gaps.sum_ns) / double(r.gaps.count) / 1e6,
                       double(r.gaps.max_ns) / 1e6, describe(r.model));
    if (r.processes) {
        const TwoProcesses &p = *r.processes;
        fmt::format_to(out, "  {:<28} role {}, status {}: world sent {}, LB packets {}, LB forwarded {} ({} not taken by its tx), "
                            "world received {}{}\n",
                       fmt::format("two processes ({})", p.link), p.role, p.status, p.world_sent, r.lb.packets, p.forwarded, p.tx_full,
                       p.world_received, p.role == "world" && !p.lb_reported ? " (the LB's counters did not arrive)" : "");
        if (p.lb_losses) fmt::format_to(out, "  {:<28} the LB went away {} times during the run\n", "", p.lb_losses);
    }
    if (r.dynamics)
        fmt::format_to(out, "  {:<28} work {}, provisioned {}, {} events{}\n", "dynamics", r.dynamics->work,
                       r.dynamics->provisioned.empty() ? r.servers : r.dynamics->provisioned, r.dynamics->event_count,
                       r.dynamics->events.empty() ? "" : " from " + r.dynamics->events);
    if (r.lockstep_agent_timeouts)
        fmt::format_to(out, "  {:<28} {} intervals went on without the agent's answer\n", "lockstep", r.lockstep_agent_timeouts);
    return s;
}

measure::ResultRow result_row(const RunReport &r, const measure::Host &host) {
    const PublishCost pc = publish_cost(r);
    const FloodRates &f = r.flood;
    static const std::vector<float> no_fct;
    const auto &fct = r.world ? r.world->fct_s : no_fct;
    measure::ResultRow row(host);
    row.add("mode", describe(r.mode)).add("lb_model", std::string(describe(r.model))).add("policy", std::string(describe(r.policy)))
        .add("servers", r.servers).add("traffic", r.traffic)
        .add("rate_per_s", r.world ? r.world->rate_per_s : 0.0).add("time_scale", r.time_scale)
        .add("lbs", std::uint64_t(r.lbs)).add("publish_us", r.publish_us).add("duration_s", r.duration_s).add("wall_s", r.wall_s)
        .add("seed", r.seed).add("packets", r.lb.packets).add("mpps", lb_mpps(r)).add("bare_mpps", f.bare_mpps)
        .add("ratio_to_bare", f.bare_mpps > 0 ? f.full_mpps / f.bare_mpps : 0.0);
    if (r.mode == RunMode::flood) // flood rows only: the other modes' files keep their columns
        row.add("empty_polls", f.full_empty_polls).add("busy", f.full_busy).add("capacity_mpps", f.full_capacity_mpps)
            .add("gen_mpps", f.full_gen_mpps).add("full_ring_share", f.full_ring_share).add("status", lb_saturated(f) ? "ok" : "miss")
            .add("publish_call_p50_us", cost_of(r.publish_call_ns).p50_us).add("publish_call_p99_us", cost_of(r.publish_call_ns).p99_us)
            .add("warm_us", r.warm_us);
    row.add("flows", r.lb.flows)
        .add("drops", r.lb.dropped());
    for (std::size_t d = 1; d < kDropReasons; ++d) row.add("drop_" + std::string(describe(Drop(d))), r.lb.drops[d]);
    row.add("untracked", r.lb.untracked).add("untracked_syns", r.lb.untracked_syns)
        .add("guessed_fcts", r.lb.guessed_fcts).add("negative_on", r.lb.negative_on);
    row.add("observations", r.published).add("actions_applied", r.lb.actions_applied)
        .add("actions_rejected", r.rejected).add("fallbacks", r.lb.fallbacks)
        .add("flows_completed", r.world ? r.world->counters.flows_completed : 0)
        .add("resets", r.world ? r.world->counters.resets : 0)
        .add("fct_p50_s", quantile(fct, 0.5)).add("fct_p90_s", quantile(fct, 0.9)).add("fct_p99_s", quantile(fct, 0.99))
        .add("jain_util", r.world ? jain_index(r.world->utilisation) : 0.0).add("jain_duration", r.jain_duration)
        .add("publish_cost_p50_us", pc.p50_us).add("publish_cost_p99_us", pc.p99_us).add("publish_cost_max_us", pc.max_us);
    if (r.processes) // two-process rows only: the other files keep their columns
        row.add("role", r.processes->role).add("link", r.processes->link).add("status", r.processes->status).add("world_sent", r.processes->world_sent)
            .add("world_received", r.processes->world_received).add("forwarded", r.processes->forwarded)
            .add("tx_full", r.processes->tx_full).add("lb_reported", std::uint64_t(r.processes->lb_reported))
            .add("lb_losses", r.processes->lb_losses);
    if (r.dynamics) // rows of runs with dynamics only
        row.add("work", r.dynamics->work).add("provisioned", r.dynamics->provisioned.empty() ? r.servers : r.dynamics->provisioned)
            .add("events", r.dynamics->events).add("event_count", std::uint64_t(r.dynamics->event_count));
    return row;
}

} // namespace marllb::sim
