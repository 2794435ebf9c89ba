// The Python SharedMemoryRegion: one side of one region (the agent's, or the LB's for tests,
// examples and Python stand-ins). Every call holds the GIL except the waits, which only load
// published words; close() refuses while one is in progress.
#pragma once

#include "observation_objects.hpp"

#include <marllb/shm.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace marllb_py {

// .code in Python: what a program tests instead of the message (code_name's values for the
// core's faults; 'role', 'closed', 'busy_wait', 'no_reservoirs' for misuse of this object).
struct RegionError : std::runtime_error {
    explicit RegionError(const std::string &message, const char *code_name = "usage")
        : std::runtime_error(message), code(code_name) {}
    const char *code;
};
// Raises the module's RegionError (NoRegionError for no_region and not_ready, ReservoirsGone
// for gone) with .code set to code_name(code) and the message in Python's terms.
[[noreturn]] void raise_region(marllb::shm::Errc code, const std::string &message);
// 'no_region', 'stale', 'version', 'permission', ...: what RegionError.code holds.
[[nodiscard]] const char *code_name(marllb::shm::Errc code) noexcept;
void init_region_errors(pybind11::module_ &m);
struct NoRegionError : RegionError { // no region yet, or being created: wait and retry
    using RegionError::RegionError;
};
struct ReservoirsGone : RegionError { // the observation's raw reservoirs were overwritten
    explicit ReservoirsGone(const std::string &message) : RegionError(message, "gone") {}
};

class Region {
public:
    Region(std::string name, bool create, bool raw_reservoirs, pybind11::handle dir,
           pybind11::handle num_servers, bool group_shared);

    [[nodiscard]] std::string role() const;
    [[nodiscard]] const std::string &name() const { return name_; }
    [[nodiscard]] std::uint64_t last_sequence() const;
    // The LB's declared server count (0: not declared), from either side.
    [[nodiscard]] std::uint32_t num_servers() const;
    [[nodiscard]] std::uint64_t server_set_seq() const;
    // LB side: announce a new server set (see LbRegion::set_servers).
    void set_servers(pybind11::handle num_servers);

    // ---- agent side. Reads return only observations newer than the last one returned by
    // any read of this object; None when there is none.
    pybind11::object read_observation();
    pybind11::object read_observation_arrays();
    pybind11::object read_next_observation();
    pybind11::object read_next_observation_arrays();
    pybind11::object wait_observation(pybind11::object after, pybind11::handle timeout, bool arrays);
    pybind11::object read_reservoirs(pybind11::handle sequence_id, pybind11::handle out);
    void write_action(pybind11::handle sequence_id, pybind11::handle weights, pybind11::handle num_servers);
    [[nodiscard]] pybind11::dict verdicts();
    [[nodiscard]] pybind11::dict action_verdict(pybind11::handle timeout);
    [[nodiscard]] std::uint64_t published_sequence();
    [[nodiscard]] std::uint64_t total_lost();
    [[nodiscard]] std::uint64_t pending_lost();

    // ---- LB side
    std::uint64_t write_observation(pybind11::handle n_flow_on, pybind11::handle features, pybind11::handle reservoirs);
    pybind11::object read_action();

    // ---- either side
    void heartbeat();
    [[nodiscard]] bool peer_alive(pybind11::handle timeout) const;
    void close();
    void unlink();

private:
    marllb::shm::AgentRegion &agent();
    marllb::shm::LbRegion &lb_side();
    bool newest(marllb::shm::Observation &o);
    bool next(marllb::shm::Observation &o);
    [[nodiscard]] pybind11::dict verdict_of_last_action(const marllb::shm::Verdicts &v) const;

    std::string name_, dir_;
    std::optional<marllb::shm::LbRegion> lb_;
    std::optional<marllb::shm::AgentRegion> agent_;
    std::uint32_t obs_generation_ = 0; // generation of the observation last returned
    unsigned waiting_ = 0;             // calls running with the GIL released
    // The last action this object wrote, and the LB's verdict counters just before it was
    // written: a verdict counted after that, naming its sequence id, is about it.
    struct Written {
        std::uint64_t seq = 0;
        marllb::shm::Verdicts before{};
    };
    std::optional<Written> written_;
    SeedDictPool pool_; // server_stats dicts of earlier seed dicts, refilled when unreachable
};

} // namespace marllb_py
