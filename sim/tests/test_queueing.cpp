// Queueing fidelity: Poisson arrivals to one processor-sharing server of one core, exponential
// work of mean S. M/M/1-PS has mean response time S / (1 - rho); the simulated clients'
// mean FCT (SYN to the server's last byte, zero network delay in lockstep) must be within 5 %.
// 2 x 10^5 flows per load, fixed seeds: the run is exact and reproducible.
#include "lockstep.hpp"
#include "metrics.hpp"

#include <catch2/catch.hpp>

#include <numeric>

using namespace marllb::sim;

namespace {
double mean_fct(double rho, std::uint64_t seed, std::size_t flows) {
    const double S = 0.010;
    WorldConfig wc;
    wc.capacities = {1.0};
    wc.rate = rho / S;
    wc.mean_work_s = S;
    wc.ack_interval_ns = 1'000'000'000; // few ACK packets: the test is about the server
    wc.seed = seed;
    World world(wc);
    LoadBalancer lb(LbConfig{.capacities = {1.0}, .policy = Policy::ecmp});
    LockstepRun run{world, lb, 200'000'000, {}};
    const std::uint64_t horizon = std::uint64_t(double(flows) / wc.rate * 1e9);
    run.run(0, horizon);
    const auto &f = world.fct_s();
    REQUIRE(f.size() > flows * 9 / 10);
    // Drop the first 1 % (empty-system start).
    const std::size_t skip = f.size() / 100;
    return std::accumulate(f.begin() + std::ptrdiff_t(skip), f.end(), 0.0) / double(f.size() - skip);
}
} // namespace

TEST_CASE("M/M/1-PS at rho = 0.5: mean FCT within 5 % of S / (1 - rho)", "[fidelity][queueing]") {
    const double m = mean_fct(0.5, 11, 200'000);
    CHECK(m == Approx(0.010 / 0.5).epsilon(0.05));
}

TEST_CASE("M/M/1-PS at rho = 0.8: mean FCT within 5 % of S / (1 - rho)", "[fidelity][queueing]") {
    const double m = mean_fct(0.8, 12, 400'000);
    CHECK(m == Approx(0.010 / 0.2).epsilon(0.05));
}
