// CPU placement of the LB and agent sides, chosen from the hwloc topology: a placement class
// (SMT siblings, two cores of one package, two NUMA nodes) picks the two CPUs; a memory
// binding puts the region on the writer's node, the reader's, or interleaved. On a machine
// without a class the plan says "unavailable" and why; nothing is faked.
#pragma once

#include <hwloc.h>

#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

namespace marllb::scenarios {

enum class PlacementClass { smt_siblings, same_package, cross_numa, unpinned };
enum class MemBind { none, writer, reader, interleave };

[[nodiscard]] std::string_view describe(PlacementClass c) noexcept;
[[nodiscard]] std::string_view describe(MemBind m) noexcept;
[[nodiscard]] bool parse_placement(std::string_view s, PlacementClass &out) noexcept; // smt, same-package, cross-numa, unpinned
[[nodiscard]] bool parse_mem_bind(std::string_view s, MemBind &out) noexcept;         // none, writer, reader, interleave

struct Placement {
    PlacementClass cls = PlacementClass::unpinned;
    bool available = false;
    std::string why;        // when unavailable: what the machine lacks
    int lb_cpu = -1, agent_cpu = -1;   // OS indices of the PUs
    int lb_node = -1, agent_node = -1; // OS indices of their NUMA nodes
    [[nodiscard]] std::string label() const; // e.g. "same-package cpu0/cpu1"
};

// Owns an hwloc topology: the machine's, or a synthetic one ("pack:2 numa:1 core:4 pu:2").
class Topology {
public:
    static std::optional<Topology> machine(std::string *error);
    static std::optional<Topology> synthetic(const std::string &description, std::string *error);
    Topology(Topology &&o) noexcept : t_(o.t_) { o.t_ = nullptr; }
    Topology &operator=(Topology &&o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    Topology(const Topology &) = delete;
    Topology &operator=(const Topology &) = delete;
    ~Topology();

    [[nodiscard]] Placement plan(PlacementClass cls) const;
    [[nodiscard]] std::vector<PlacementClass> available_classes() const;
    [[nodiscard]] int numa_nodes() const;
    // Binds the calling process (all its threads) to one PU; false + message on failure.
    bool bind_process(int cpu, std::string *error) const;
    // Binds [addr, addr + len) as asked (writer: lb_node, reader: agent_node, interleave: both).
    bool bind_memory(const void *addr, std::size_t len, const Placement &p, MemBind m, std::string *error) const;
    [[nodiscard]] hwloc_topology_t raw() const noexcept { return t_; }

private:
    explicit Topology(hwloc_topology_t t) : t_(t) {}
    hwloc_topology_t t_;
};

} // namespace marllb::scenarios
