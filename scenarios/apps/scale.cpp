// marllb-scenario-scale: 1 to 64 regions (LB/agent pairs) on one host. One LB process serves
// every region (as one LB lcore serves several LB instances) and one agent process watches
// them all. Per count: publish -> visible latency per pair at --publish-us per region
// (staggered), and total throughput with both sides flat out.
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
    std::atomic<int> go{0}, done{0};
    std::uint64_t read = 0, torn = 0;
    std::size_t n = 0;
    double latency[kMax];
};
} // namespace

int main(int argc, char **argv) {
    Common c;
    std::string counts = "1,2,4,8,16,32,64";
    double seconds = 3, publish_us = 10000;
    CLI::App app{"marllb-scenario-scale: latency per pair and total throughput for 1..64 regions", "marllb-scenario-scale"};
    add_common_options(app, c);
    app.add_option("--regions", counts, "region counts, comma-separated");
    app.add_option("--seconds", seconds, "seconds per count and mode")->check(marllb::sim::cli::positive);
    app.add_option("--publish-us", publish_us, "publish period per region (latency mode)")->check(CLI::Range(100.0, 1e7));
    app.footer("Example: marllb-scenario-scale --regions 1,8,64 --seconds 1\n");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;
    std::vector<unsigned> ks;
    {
        std::stringstream ss(counts);
        std::string item;
        while (std::getline(ss, item, ',')) {
            unsigned k = 0;
            try {
                k = unsigned(std::stoul(item));
            } catch (...) {
            }
            if (k < 1 || k > 64) {
                fmt::print(stderr, "marllb-scenario-scale: --regions: '{}' is not a count in 1..64\n", item);
                return 2;
            }
            ks.push_back(k);
        }
    }
    Setting s;
    if (int rc = begin(c, s, "scale"); rc >= 0) return rc;
    std::vector<Row> rows;
    bool failed = false;
    for (unsigned k : ks) {
        for (const bool flat_out : {false, true}) {
            std::vector<std::string> names;
            std::vector<shm::LbRegion> lbs;
            for (unsigned i = 0; i < k; ++i) {
                names.push_back("marllb_scn_scale_" + std::to_string(getpid()) + "_" + std::to_string(i));
                auto lb = shm::LbRegion::create(names.back());
                if (!lb) {
                    fmt::print(stderr, "marllb-scenario-scale: {}\n", lb.error().message);
                    return 2;
                }
                lbs.push_back(std::move(*lb));
            }
            auto *sh = shared_block<Shared>();
            const pid_t agent = fork_agent(s, [&] {
                std::vector<shm::AgentRegion> as;
                for (auto &n : names) {
                    auto a = shm::AgentRegion::attach(n);
                    if (!a) return 3;
                    as.push_back(std::move(*a));
                }
                std::vector<std::uint64_t> last(k, 0);
                shm::Observation o;
                sh->go.store(1, std::memory_order_release);
                while (!sh->done.load(std::memory_order_acquire))
                    for (unsigned i = 0; i < k; ++i) {
                        if (as[i].published_sequence() == last[i]) continue;
                        if (as[i].read_newest(o) != shm::Errc::ok) continue;
                        const std::uint64_t t = now_ns();
                        last[i] = o.msg.sequence_id;
                        ++sh->read;
                        sh->torn += !measure::intact_fast(o.msg);
                        if (sh->n < kMax) sh->latency[sh->n++] = double(t - o.publish_mono_ns);
                    }
                return 0;
            });
            while (!sh->go.load(std::memory_order_acquire)) {
            }
            marllb_msg_out_t msg;
            const std::uint64_t t0 = now_ns(), end = t0 + std::uint64_t(seconds * 1e9);
            const std::uint64_t period = std::uint64_t(publish_us * 1e3);
            std::uint64_t published = 0;
            if (flat_out) {
                for (unsigned i = 0; now_ns() < end; i = i + 1 == k ? 0 : i + 1) {
                    measure::fill_fast(msg, lbs[i].next_sequence());
                    lbs[i].publish(msg);
                    ++published;
                }
            } else {
                for (std::uint64_t j = 0;; ++j) { // region j % k at its staggered slot in the period
                    const std::uint64_t t = t0 + j * (period / k);
                    if (t >= end) break;
                    auto &lb = lbs[j % k];
                    measure::fill_fast(msg, lb.next_sequence());
                    sleep_until_ns(t);
                    lb.publish(msg);
                    ++published;
                }
            }
            const double wall = double(now_ns() - t0) * 1e-9;
            sh->done.store(1, std::memory_order_release);
            const int arc = wait_child(agent);
            Row r{.scenario = "scale", .regime = std::string(flat_out ? "flat-out-" : "cadence-") + std::to_string(k),
                  .metric = "publish_to_visible", .cadence_us = flat_out ? 0 : publish_us};
            r.s = stats(std::vector<double>(sh->latency, sh->latency + sh->n));
            r.published = published, r.read = sh->read, r.torn_accepted = sh->torn;
            r.expected = double(published) / wall;
            r.note = fmt::format("{} regions: {:.3f} M publishes/s, {:.3f} M reads/s in total", k,
                                 double(published) / wall / 1e6, double(sh->read) / wall / 1e6);
            if (sh->torn) r.fail("no_torn_accepted", std::to_string(sh->torn) + " torn observations accepted");
            if (arc != 0) r.fail("peer_exit", "agent exited with " + std::to_string(arc));
            failed |= !r.broken.empty();
            rows.push_back(r);
            lbs.clear();
            for (auto &n : names) (void)shm::unlink_region(n);
        }
    }
    const int rc = write_rows(c, s, rows);
    return failed ? 1 : rc;
}
