// marllb-scenario-wrap: loss to ring wrap, counted exactly.
//
//   stress:   publish every 200 us with a busy in-order reader: nothing may be lost;
//             publish -> read latency.
//   ratio-R:  a writer every --writer-us and an in-order reader R times slower, for each R of
//             --ratios: the reader's count of lost messages must make read + lost + pending
//             equal published exactly, and is shown beside what a ring of 4 predicts for the
//             same schedule.
#include "scenario.hpp"

#include <marllb/measure/payload.hpp>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <unistd.h>

using namespace marllb;
using namespace marllb::scenarios;

namespace {

constexpr std::size_t kMax = 1 << 16;
struct Shared {
    std::atomic<int> done{0};
    std::uint64_t start_ns = 0;
    std::uint64_t read = 0, lost = 0, torn = 0, retries = 0, last = 0, regressions = 0;
    std::uint64_t pending_lost = 0, total_lost = 0; // the reader's own totals, read at its end
    std::size_t n = 0;
    double latency[kMax];
};

void spin_until(std::uint64_t t) {
    if (t > now_ns() + 300'000) sleep_until_ns(t - 200'000);
    while (now_ns() < t) {
    }
}

// What a 4-slot ring loses for an in-order reader that reads once per tick: replay the ideal
// schedule (writer every w, reader every r, reader phase half a writer period late).
std::uint64_t predicted_loss(std::uint64_t published, double w, double r, std::uint64_t ticks) {
    std::uint64_t last = 0, lost = 0;
    for (std::uint64_t j = 0; j < ticks; ++j) {
        const double t = w / 2 + double(j) * r;
        const std::uint64_t newest = std::min<std::uint64_t>(published, std::uint64_t(t / w) + 1);
        if (newest <= last) continue;
        std::uint64_t want = last + 1;
        if (newest - want >= MARLLB_RING_SLOTS) {
            lost += newest - (MARLLB_RING_SLOTS - 1) - want;
            want = newest - (MARLLB_RING_SLOTS - 1);
        }
        last = want;
    }
    return lost;
}

} // namespace

int main(int argc, char **argv) {
    Common c;
    double seconds = 10, stress_us = 200, writer_us = 1000;
    std::string ratios = "1,2,4,8,16";
    CLI::App app{"marllb-scenario-wrap: exact loss accounting when the reader is slower than the writer", "marllb-scenario-wrap"};
    add_common_options(app, c);
    app.add_option("--seconds", seconds, "seconds per regime")->check(CLI::PositiveNumber);
    app.add_option("--stress-us", stress_us, "publish period of the stress regime")->check(CLI::Range(20.0, 1e6));
    app.add_option("--writer-us", writer_us, "publish period of the ratio regimes")->check(CLI::Range(50.0, 1e6));
    app.add_option("--ratios", ratios, "reader period / writer period, comma-separated");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;
    std::vector<double> rs;
    {
        std::stringstream ss(ratios);
        std::string item;
        while (std::getline(ss, item, ',')) {
            try {
                rs.push_back(std::stod(item));
            } catch (...) {
                std::fprintf(stderr, "marllb-scenario-wrap: --ratios: '%s' is not a number (e.g. 1,2,4,8)\n", item.c_str());
                return 2;
            }
            if (rs.back() < 1) {
                std::fprintf(stderr, "marllb-scenario-wrap: --ratios: each ratio must be >= 1\n");
                return 2;
            }
        }
    }
    Setting s;
    if (int rc = begin(c, s, "wrap"); rc >= 0) return rc;

    std::vector<Row> rows;
    struct Run { std::string regime; double w_us, r_us; bool busy; };
    std::vector<Run> runs{{"stress", stress_us, 0, true}};
    for (double r : rs) {
        std::ostringstream n;
        n << "ratio-" << r;
        runs.push_back({n.str(), writer_us, writer_us * r, false});
    }
    bool failed = false;
    for (const Run &run : runs) {
        const std::string name = "marllb_scn_wrap_" + std::to_string(getpid());
        auto lb = shm::LbRegion::create(name);
        if (!lb) {
            std::fprintf(stderr, "marllb-scenario-wrap: %s\n", lb.error().message.c_str());
            return 2;
        }
        auto *sh = shared_block<Shared>();
        const std::uint64_t w = std::uint64_t(run.w_us * 1e3), r = std::uint64_t(run.r_us * 1e3);
        const std::uint64_t events = std::uint64_t(seconds * 1e6 / run.w_us);
        sh->start_ns = now_ns() + 100'000'000;
        const std::uint64_t ticks = run.busy ? 0 : std::uint64_t(double(events) * run.w_us / run.r_us);
        const pid_t agent = fork_agent(s, [&] {
            auto a = shm::AgentRegion::attach(name);
            if (!a) return 3;
            shm::Observation o;
            auto take = [&] {
                if (a->read_next(o) != shm::Errc::ok) return false;
                const std::uint64_t t = now_ns();
                if (o.msg.sequence_id <= sh->last) ++sh->regressions;
                sh->last = o.msg.sequence_id;
                ++sh->read;
                sh->lost += o.lost;
                sh->retries += o.retries;
                sh->torn += !measure::observation_intact(o.msg);
                if (sh->n < kMax) sh->latency[sh->n++] = double(t - o.publish_mono_ns);
                return true;
            };
            if (run.busy) {
                while (!sh->done.load(std::memory_order_acquire)) take();
                while (take()) {
                }
            } else {
                for (std::uint64_t j = 0; j < ticks; ++j) {
                    spin_until(sh->start_ns + w / 2 + j * r);
                    take();
                }
            }
            sh->pending_lost = a->pending_lost();
            sh->total_lost = a->total_lost();
            return 0;
        });
        marllb_msg_out_t msg;
        for (std::uint64_t k = 0; k < events; ++k) {
            measure::fill_observation(msg, lb->next_sequence());
            spin_until(sh->start_ns + k * w);
            lb->publish(msg);
        }
        sh->done.store(1, std::memory_order_release);
        const int arc = wait_child(agent);
        const std::uint64_t published = lb->next_sequence() - 1;
        const std::uint64_t pending = published - sh->last;
        Row row{.scenario = "wrap", .regime = run.regime, .metric = "publish_to_read", .cadence_us = run.w_us,
                .read_us = run.busy ? 0 : run.r_us};
        row.s = stats(std::vector<double>(sh->latency, sh->latency + sh->n));
        row.published = published, row.read = sh->read, row.lost = sh->lost, row.torn_accepted = sh->torn, row.retries = sh->retries;
        row.expected = run.busy ? 0.0 : double(predicted_loss(published, double(w), double(r), ticks));
        const bool exact = sh->lost + sh->pending_lost == sh->total_lost && sh->read + sh->total_lost + pending == published;
        std::ostringstream note;
        note << "read+lost+pending " << (exact ? "==" : "!=") << " published (pending " << pending << ")";
        if (run.busy) note << "; a busy reader should lose nothing";
        else note << "; expected = ring-of-4 replay of the schedule";
        row.note = note.str();
        // Exact invariants fail the run; a busy reader that still lost messages (it was
        // descheduled for longer than 4 publishes) is a missed target, not a broken protocol.
        if (!exact || sh->torn || sh->regressions || arc != 0) {
            row.status = "FAIL";
            failed = true;
        } else if (run.busy && sh->lost != 0) {
            row.status = "miss";
        }
        rows.push_back(row);
        if (!c.quiet)
            std::fprintf(stderr, "  %s: %llu published, %llu read, %llu lost (expected %.0f)\n", run.regime.c_str(),
                         (unsigned long long)published, (unsigned long long)sh->read, (unsigned long long)sh->lost, row.expected);
        lb = shm::Expected<shm::LbRegion>(shm::unexpected(shm::Error{}));
        (void)shm::unlink_region(name);
    }
    const int rc = write_rows(c, s, rows);
    return failed ? 1 : rc;
}
