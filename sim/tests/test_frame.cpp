// Frames: what the generator builds the parser reads back; every malformed frame class is
// named by its drop reason, and the parser never reads past the frame (ASan build).
#include "frame.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

using namespace marllb::sim;

namespace {
std::vector<std::uint8_t> good_frame(std::uint8_t flags = kTcpSyn) {
    std::vector<std::uint8_t> f(kFrameLen);
    build_frame(f.data(), FlowKey{0x0A000001, kVip, 40000, kVipPort}, flags, 7);
    return f;
}
Drop parse_copy(const std::vector<std::uint8_t> &f, std::size_t len) {
    std::vector<std::uint8_t> exact(f.begin(), f.begin() + std::ptrdiff_t(len)); // ASan sees the true end
    return parse_frame(exact.data(), exact.size()).drop;
}
} // namespace

TEST_CASE("a built frame parses back to its 5-tuple and flags", "[frame]") {
    auto f = good_frame(kTcpPsh | kTcpAck);
    const Parsed p = parse_frame(f.data(), f.size());
    REQUIRE(p.drop == Drop::none);
    CHECK(p.key == FlowKey{0x0A000001, kVip, 40000, kVipPort});
    CHECK(p.tcp_flags == (kTcpPsh | kTcpAck));
}

TEST_CASE("built frames carry a valid IPv4 header checksum", "[frame]") {
    for (std::uint32_t src : {0x0A000001u, 0x0AFFFFFFu, 0x0A123456u}) {
        std::uint8_t f[kFrameLen];
        build_frame(f, FlowKey{src, kVip, 1234, kVipPort}, kTcpAck, 99);
        std::uint32_t sum = 0;
        for (std::size_t i = 0; i < kIpv4Len; i += 2) sum += std::uint32_t(f[kEthLen + i] << 8 | f[kEthLen + i + 1]);
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        CHECK(sum == 0xffff); // the one's-complement sum over a valid header, checksum included
    }
}

TEST_CASE("every truncation of a frame is dropped as truncated or bad, never read past", "[frame][bad-input]") {
    const auto f = good_frame();
    for (std::size_t len = 0; len < kEthLen + kIpv4Len + kTcpLen; ++len) {
        INFO("length " << len);
        CHECK(parse_copy(f, len) != Drop::none);
    }
    CHECK(parse_copy(f, kEthLen + kIpv4Len + kTcpLen) == Drop::none);
}

TEST_CASE("non-IPv4, non-TCP, fragments and bad header lengths get their own reasons", "[frame][bad-input]") {
    auto f = good_frame();
    auto arp = f;
    arp[12] = 0x08, arp[13] = 0x06;
    CHECK(parse_copy(arp, arp.size()) == Drop::not_ipv4);
    auto udp = f;
    udp[kEthLen + 9] = 17;
    CHECK(parse_copy(udp, udp.size()) == Drop::not_tcp);
    auto frag = f;
    frag[kEthLen + 6] = 0x20; // MF
    CHECK(parse_copy(frag, frag.size()) == Drop::fragment);
    auto v6 = f;
    v6[kEthLen] = 0x65;
    CHECK(parse_copy(v6, v6.size()) == Drop::bad_ipv4);
    auto ihl = f;
    ihl[kEthLen] = 0x44;
    CHECK(parse_copy(ihl, ihl.size()) == Drop::bad_ipv4);
    auto total = f;
    total[kEthLen + 2] = 0x01; // 256 + 40 bytes announced in a 60-byte frame
    CHECK(parse_copy(total, total.size()) == Drop::bad_ipv4);
    auto doff = f;
    doff[kEthLen + kIpv4Len + 12] = 0x40; // 16-byte TCP header
    CHECK(parse_copy(doff, doff.size()) == Drop::bad_tcp);
    auto doff_long = f;
    doff_long[kEthLen + kIpv4Len + 12] = 0xF0; // 60-byte TCP header past the IP total length
    CHECK(parse_copy(doff_long, doff_long.size()) == Drop::bad_tcp);
}

TEST_CASE("the server index written into the destination MAC reads back", "[frame]") {
    auto f = good_frame();
    CHECK(server_from_mac(f.data(), f.size()) == -1);
    set_server_mac(f.data(), 63);
    CHECK(server_from_mac(f.data(), f.size()) == 63);
    CHECK(parse_frame(f.data(), f.size()).drop == Drop::none);
}

TEST_CASE("a frame forwarded by a server address (L3DSR) reads back as the VIP and the server's MAC", "[frame]") {
    auto f = good_frame(kTcpAck);
    const std::vector<std::uint8_t> ours = [&] { auto g = f; set_server_mac(g.data(), 3); return g; }();
    // What VPP's lb plugin in L3DSR mode sends to server 3: destination 198.51.100.4, DSCP set.
    f[kEthLen + 1] = 2 << 2;
    f[kEthLen + 16] = 198, f[kEthLen + 17] = 51, f[kEthLen + 18] = 100, f[kEthLen + 19] = 4;
    REQUIRE(from_server_address(f.data(), f.size()));
    CHECK(server_from_mac(f.data(), f.size()) == 3);
    const Parsed p = parse_frame(f.data(), f.size());
    CHECK(p.key == (FlowKey{0x0A000001, kVip, 40000, kVipPort}));
    CHECK(std::memcmp(f.data(), ours.data(), 6) == 0);
    // Our own LB's frames, and addresses outside the server net, are left alone.
    auto same = ours;
    CHECK_FALSE(from_server_address(same.data(), same.size()));
    CHECK(same == ours);
    f[kEthLen + 18] = 101;
    CHECK_FALSE(from_server_address(f.data(), f.size()));
    CHECK_FALSE(from_server_address(f.data(), kEthLen + 10));
}
