// The placement planner on synthetic topologies: each class is found where the machine has
// it, and reported unavailable (with the reason) where it does not.
#include "placement.hpp"

#include <catch2/catch.hpp>

using namespace marllb::scenarios;

namespace {
Topology topo(const char *d) {
    std::string err;
    auto t = Topology::synthetic(d, &err);
    REQUIRE(t.has_value());
    return std::move(*t);
}
} // namespace

TEST_CASE("two sockets with SMT: every class, each pair with the relation it claims", "[placement]") {
    auto t = topo("pack:2 numa:1 core:4 pu:2");
    const Placement smt = t.plan(PlacementClass::smt_siblings);
    REQUIRE(smt.available);
    CHECK(smt.lb_cpu / 2 == smt.agent_cpu / 2); // PUs 2k and 2k+1 share core k
    const Placement pkg = t.plan(PlacementClass::same_package);
    REQUIRE(pkg.available);
    CHECK(pkg.lb_cpu / 2 != pkg.agent_cpu / 2);
    CHECK(pkg.lb_cpu / 8 == pkg.agent_cpu / 8);
    CHECK(pkg.lb_node == pkg.agent_node);
    const Placement numa = t.plan(PlacementClass::cross_numa);
    REQUIRE(numa.available);
    CHECK(numa.lb_node != numa.agent_node);
    CHECK(t.available_classes().size() == 3);
}

TEST_CASE("one package, two NUMA nodes, no SMT: no SMT class, the other two", "[placement]") {
    auto t = topo("pack:1 numa:2 core:8 pu:1");
    const Placement smt = t.plan(PlacementClass::smt_siblings);
    CHECK_FALSE(smt.available);
    CHECK(smt.why == "no core has two hardware threads");
    CHECK(smt.label() == "smt unavailable");
    CHECK(t.plan(PlacementClass::same_package).available);
    const Placement numa = t.plan(PlacementClass::cross_numa);
    REQUIRE(numa.available);
    CHECK(numa.lb_node != numa.agent_node);
}

TEST_CASE("a single core with SMT: only SMT siblings", "[placement]") {
    auto t = topo("pack:1 core:1 pu:2");
    CHECK(t.plan(PlacementClass::smt_siblings).available);
    CHECK_FALSE(t.plan(PlacementClass::same_package).available);
    const Placement numa = t.plan(PlacementClass::cross_numa);
    CHECK_FALSE(numa.available);
    CHECK(numa.why == "one NUMA node");
}

TEST_CASE("two cores, one node (these test machines): only same-package", "[placement]") {
    auto t = topo("pack:1 core:2 pu:1");
    const auto classes = t.available_classes();
    REQUIRE(classes.size() == 1);
    CHECK(classes[0] == PlacementClass::same_package);
    const Placement p = t.plan(PlacementClass::same_package);
    CHECK(p.label() == "same-package cpu0/cpu1");
}

TEST_CASE("a synthetic description hwloc rejects is an error, not a guess", "[placement][bad-input]") {
    std::string err;
    CHECK_FALSE(Topology::synthetic("pack:two", &err).has_value());
    CHECK(err.find("pack:two") != std::string::npos);
}

TEST_CASE("class and binding names parse, unknown ones do not", "[placement][bad-input]") {
    PlacementClass c;
    MemBind m;
    CHECK(parse_placement("cross-numa", c));
    CHECK(c == PlacementClass::cross_numa);
    CHECK_FALSE(parse_placement("numa", c));
    CHECK(parse_mem_bind("interleave", m));
    CHECK_FALSE(parse_mem_bind("both", m));
}
