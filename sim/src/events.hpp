// A schedule of timed events the world applies during a run (marllb-sim --events FILE): a
// server's real capacity changes (a noisy neighbour, throttling), the Poisson arrival rate
// changes, a server is drained from the LB's choices or restored to them.
//
// The file is CSV with the header `time_s,event,server,value`, one event per line, times in
// seconds from the run's start (simulated seconds in --lockstep), not decreasing:
//
//   time_s,event,server,value
//   60,capacity,4,1.5        # server 4 (0-based) really has 1.5 cores from 60 s on
//   120,capacity,4,4         # and 4 again
//   30,rate,,400             # Poisson arrivals at 400 flows/s from 30 s on
//   90,drain,2,              # the LB sends no new flow to server 2 (its flows finish)
//   150,restore,2,           # server 2 takes new flows again
//
// Empty lines and lines starting with '#' are skipped. `capacity` and `rate` are the world's
// (the servers' true cores, the clients' rate); `drain` and `restore` are the LB's (an
// operator's change of its server set), applied by the LB to each SYN by the SYN's time, so a
// lockstep run is the same for a seed. What WCMP, SED and the static fallback believe stays
// --provisioned: a capacity event is what they do not know.
#pragma once

#include <marllb/shm.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace marllb::sim {

struct WorldEvent {
    enum class Kind : std::uint8_t { capacity, rate, drain, restore };
    double time_s = 0;
    Kind kind = Kind::capacity;
    int server = -1; // capacity, drain, restore
    double value = 0; // capacity: cores (0, 1024]; rate: flows/s > 0
};

// `text` is the file's content, `name` its path for messages ("<name>:<line>: ..."); servers is
// the run's server count (a server index must be below it).
[[nodiscard]] shm::Expected<std::vector<WorldEvent>> parse_events(std::string_view text, std::string_view name,
                                                                 std::size_t servers);
[[nodiscard]] shm::Expected<std::vector<WorldEvent>> load_events(const std::string &path, std::size_t servers);

// The LB's part of a schedule: drain and restore, at absolute times from start_ns.
struct DrainEvent {
    std::uint64_t t_ns;
    unsigned server;
    bool drained;
};
[[nodiscard]] std::vector<DrainEvent> drain_events(const std::vector<WorldEvent> &events, std::uint64_t start_ns);

} // namespace marllb::sim
