// marllb-scenario-maxrate: both sides as fast as they go for --seconds: publishes and reads
// per second, torn-read retries, fallbacks, publish -> read latency; newest mode and in-order
// mode (exact loss). Two busy processes: run it alone on the machine.
#include "scenario.hpp"

#include <marllb/measure/payload.hpp>

#include <atomic>
#include <cstdio>
#include <unistd.h>

using namespace marllb;
using namespace marllb::scenarios;

namespace {
constexpr std::size_t kMax = 1 << 20;
struct Shared {
    std::atomic<int> go{0}, done{0};
    std::uint64_t read = 0, lost = 0, torn = 0, retries = 0, fallbacks = 0, last = 0, regressions = 0, skipped = 0;
    std::uint64_t pending_lost = 0, total_lost = 0; // the reader's own totals, read at its end
    std::uint64_t t_first = 0, t_last = 0;
    std::size_t n = 0;
    double latency[kMax];
};
} // namespace

int main(int argc, char **argv) {
    Common c;
    double seconds = 5;
    CLI::App app{"marllb-scenario-maxrate: throughput, retries and latency with both sides running flat out",
                 "marllb-scenario-maxrate"};
    add_common_options(app, c);
    app.add_option("--seconds", seconds, "seconds per mode")->check(marllb::sim::cli::positive);
    app.footer("Example: marllb-scenario-maxrate --seconds 2 --placement same-package\n");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;
    Setting s;
    if (int rc = begin(c, s, "maxrate"); rc >= 0) return rc;
    std::vector<Row> rows;
    bool failed = false;
    for (const bool in_order : {false, true}) {
        const std::string name = "marllb_scn_max_" + std::to_string(getpid());
        auto lb = shm::LbRegion::create(name);
        if (!lb) {
            fmt::print(stderr, "marllb-scenario-maxrate: {}\n", lb.error().message);
            return 2;
        }
        auto *sh = shared_block<Shared>();
        const pid_t agent = fork_agent(s, [&] {
            auto a = shm::AgentRegion::attach(name);
            if (!a) return 3;
            shm::Observation o;
            sh->go.store(1, std::memory_order_release);
            auto take = [&] {
                const shm::Errc rc = in_order ? a->read_next(o) : a->read_newest(o);
                if (rc != shm::Errc::ok) return false; // both modes: again when nothing is newer
                const std::uint64_t t = now_ns();
                if (!sh->t_first) sh->t_first = t;
                sh->t_last = t;
                if (o.msg.sequence_id <= sh->last) ++sh->regressions;
                sh->last = o.msg.sequence_id;
                ++sh->read;
                sh->lost += o.lost;
                sh->skipped += o.skipped;
                sh->retries += o.retries;
                sh->fallbacks += o.fallback;
                sh->torn += !measure::intact_fast(o.msg);
                if (sh->n < kMax) sh->latency[sh->n++] = double(t - o.publish_mono_ns);
                return true;
            };
            while (!sh->done.load(std::memory_order_acquire)) take();
            while (in_order && take()) {
            }
            sh->pending_lost = a->pending_lost();
            sh->total_lost = a->total_lost();
            return 0;
        });
        while (!sh->go.load(std::memory_order_acquire)) {
        }
        marllb_msg_out_t msg;
        const std::uint64_t t0 = now_ns(), end = t0 + std::uint64_t(seconds * 1e9);
        std::uint64_t t = t0;
        while (t < end) {
            measure::fill_fast(msg, lb->next_sequence());
            lb->publish(msg);
            t = now_ns();
        }
        sh->done.store(1, std::memory_order_release);
        const int arc = wait_child(agent);
        const std::uint64_t published = lb->next_sequence() - 1;
        const double wall = double(t - t0) * 1e-9;
        Row row{.scenario = "maxrate", .regime = in_order ? "in-order" : "newest", .metric = "publish_to_read"};
        row.s = stats(std::vector<double>(sh->latency, sh->latency + sh->n));
        row.published = published, row.read = sh->read, row.lost = sh->lost, row.skipped = sh->skipped;
        row.torn_accepted = sh->torn, row.retries = sh->retries, row.fallbacks = sh->fallbacks;
        row.expected = double(published) / wall; // the writer's rate, for scale
        row.note = fmt::format("{:.2f} M publishes/s, {:.2f} M reads/s{}", double(published) / wall / 1e6,
                               double(sh->read) / wall / 1e6, in_order ? "; read+lost+pending == published" : "");
        // Sum of out.lost + what is still pending = the reader's total; with what was read and
        // what is left unread, that is every message published.
        const bool exact = !in_order || (sh->lost + sh->pending_lost == sh->total_lost &&
                                         sh->read + sh->total_lost + (published - sh->last) == published);
        if (sh->torn) row.fail("no_torn_accepted", std::to_string(sh->torn) + " torn observations accepted");
        if (sh->regressions) row.fail("no_sequence_regression", std::to_string(sh->regressions) + " regressions");
        if (!exact) row.fail("loss_accounting", "read+lost+pending != published");
        if (arc != 0) row.fail("peer_exit", "agent exited with " + std::to_string(arc));
        failed |= !row.broken.empty();
        rows.push_back(row);
        lb->close();
        (void)shm::unlink_region(name);
    }
    const int rc = write_rows(c, s, rows);
    return failed ? 1 : rc;
}
