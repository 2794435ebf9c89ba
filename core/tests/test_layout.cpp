// Layout, as a foreign reader sees it: a region written through the API is read back as raw
// bytes at the offsets the ABI documents (README's region table, shm_layout.h's comments),
// the way a VPP plugin in C or a Python reader with `struct` would find them. The header's
// static asserts check the compiler's idea of the structs; these tests check that the bytes
// the library writes land where a reader that only knows the document looks for them.
#include "support/process.hpp"
#include "../src/seqlock.hpp"

#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <memory>
#include <vector>

using namespace marllb::shm;
using marllb::test::unique_region;

namespace {

// The documented wire offsets, written out as numbers on purpose (not from the header).
constexpr std::size_t kRing = 4096, kAction = 16384, kReservoirs = 20480;
constexpr std::size_t kSlot0 = kRing + 64, kSlotSize = 2944, kSlotMsg = 64;
constexpr std::size_t kActionMsg = kAction + 192;

struct Image {
    std::vector<unsigned char> bytes;
    template <class T> T at(std::size_t off) const {
        REQUIRE(off + sizeof(T) <= bytes.size());
        T v;
        std::memcpy(&v, bytes.data() + off, sizeof v);
        return v;
    }
};

Image image_of(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    struct stat st{};
    REQUIRE(fstat(fd, &st) == 0);
    Image img{std::vector<unsigned char>(std::size_t(st.st_size))};
    REQUIRE(pread(fd, img.bytes.data(), img.bytes.size(), 0) == ssize_t(img.bytes.size()));
    close(fd);
    return img;
}

using Cleanup = marllb::test::RegionCleanup;

} // namespace

TEST_CASE("an observation lands at the documented bytes: seq 1..5 in slots 0,1,2,3,0", "[layout]") {
    const auto name = unique_region("wire_obs");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    marllb_msg_out_t m{};
    for (std::uint64_t i = 1; i <= 5; ++i) {
        m.timestamp_us = 1000 + i;
        m.active_as_bitmap = 0x5;
        m.num_active_as = 2;
        m.as_stats[2].n_flow_on = std::uint32_t(40 + i);
        m.as_stats[2].reservoir_features[MARLLB_DURATION_P90] = 0.25f * float(i);
        REQUIRE(lb->publish(m) == i);
    }
    const Image img = image_of(lb->path());
    CHECK(img.bytes.size() == kReservoirs); // no raw reservoirs asked for: 20 KiB
    CHECK(std::memcmp(img.bytes.data(), "MRLLSHM1", 8) == 0);
    CHECK(img.at<std::uint32_t>(8) == 1); // ABI version
    CHECK(img.at<std::uint64_t>(16) == kReservoirs);
    CHECK(img.at<std::uint64_t>(64) == kRing);
    CHECK(img.at<std::uint64_t>(80) == kAction);
    CHECK(img.at<std::uint64_t>(kRing) == 5); // published_seq, alone on its line
    for (std::uint64_t i = 2; i <= 5; ++i) {  // 1 was overwritten by 5
        const std::size_t slot = kSlot0 + ((i - 1) % 4) * kSlotSize;
        const std::size_t msg = slot + kSlotMsg;
        CHECK(img.at<std::uint64_t>(slot) == 2 * i);        // seqlock word: 2 x seq when complete
        CHECK(img.at<std::uint64_t>(msg) == i);             // sequence_id
        CHECK(img.at<std::uint64_t>(msg + 8) == 1000 + i);  // timestamp_us
        CHECK(img.at<std::uint64_t>(msg + 16) == 0x5);      // active_as_bitmap
        CHECK(img.at<std::uint32_t>(msg + 24) == 2);        // num_active_as
        const std::size_t as2 = msg + 32 + 2 * 44;          // as_stats[2], 44 bytes each
        CHECK(img.at<std::uint32_t>(as2) == 40 + i);        // n_flow_on
        CHECK(img.at<float>(as2 + 4 + 6 * 4) == 0.25f * float(i)); // duration p90 is feature 6
    }
}

TEST_CASE("an action lands at the documented bytes and the LB applies what is there", "[layout]") {
    const auto name = unique_region("wire_act");
    Cleanup c{name};
    auto lb = LbRegion::create(name);
    REQUIRE(lb);
    marllb_msg_out_t m{};
    (void)lb->publish(m);
    auto agent = AgentRegion::attach(name);
    REQUIRE(agent);
    MsgIn a{};
    a.sequence_id = 1;
    a.timestamp_us = 77;
    a.num_servers = 3;
    a.weights[0] = 1, a.weights[1] = 0, a.weights[2] = 3;
    REQUIRE(marllb_alias_build(a.weights, 3, a.alias_table) == MARLLB_OK);
    REQUIRE(agent->write_action(a, 1) == Errc::ok);
    REQUIRE(lb->poll_action().status == MARLLB_POLL_APPLIED);

    const Image img = image_of(lb->path());
    CHECK(img.at<std::uint64_t>(kAction) % 2 == 0);     // seqlock word even: complete
    CHECK(img.at<std::uint64_t>(kAction) != 0);
    CHECK(img.at<std::uint64_t>(kActionMsg) == 1);      // sequence_id
    CHECK(img.at<std::uint64_t>(kActionMsg + 8) == 77); // timestamp_us
    CHECK(img.at<std::uint32_t>(kActionMsg + 16) == 3); // num_servers
    CHECK(img.at<float>(kActionMsg + 24 + 2 * 4) == 3.0f);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(img.at<float>(kActionMsg + 280 + i * 8) == a.alias_table[i].prob);
        CHECK(img.at<std::uint32_t>(kActionMsg + 280 + i * 8 + 4) == a.alias_table[i].alias);
    }
    CHECK(img.at<std::uint64_t>(256) == 1); // header: applied_action_seq, the verdict line
    REQUIRE(lb->action());
    CHECK(std::memcmp(lb->action(), img.bytes.data() + kActionMsg, sizeof(MsgIn)) == 0);
}

TEST_CASE("with raw reservoirs the region is 408 KiB and the buffers start at 20 KiB", "[layout]") {
    const auto name = unique_region("wire_res");
    Cleanup c{name};
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_RAW_RESERVOIRS;
    auto lb = LbRegion::create(name, opts);
    REQUIRE(lb);
    auto raw = std::make_unique<ReservoirData>();
    raw->flow_duration[1].values[3] = 9.5f;
    marllb_msg_out_t m{};
    REQUIRE(lb->publish(m, raw.get()) == 1);
    const Image img = image_of(lb->path());
    CHECK(img.bytes.size() == 417792);
    CHECK(img.at<std::uint64_t>(96) == kReservoirs);
    // Buffer (seq % 2) = 1, each 64 + 196,608 bytes; duration reservoirs follow 64 FCT ones.
    const std::size_t buf1 = kReservoirs + 196672;
    CHECK(img.at<std::uint64_t>(buf1) == 2);
    CHECK(img.at<float>(buf1 + 64 + 64 * 1536 + 1 * 1536 + 3 * 4) == 9.5f);
}

#if defined(__x86_64__)
// The library takes PREFETCHW where CPUID says the CPU has it (seqlock.hpp); the kernel reads
// the same bit into /proc/cpuinfo as "3dnowprefetch". A wrong bit would keep read prefetches
// on a CPU that has the instruction, or issue it on one that does not report it.
TEST_CASE("the PREFETCHW detection agrees with the kernel's 3dnowprefetch flag", "[layout]") {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    bool found = false, flag = false;
    while (std::getline(cpuinfo, line))
        if (line.rfind("flags", 0) == 0) {
            std::istringstream words(line.substr(line.find(':') + 1));
            for (std::string w; words >> w;) flag = flag || w == "3dnowprefetch";
            found = true;
            break;
        }
    REQUIRE(found); // Linux on x86-64 always lists them
    const bool bit = marllb::shm::detail::cpu_has_prefetchw();
    // Linux also sets the flag on a 64-bit AMD CPU whose CPUID hides the bit ("3DNow or LM
    // implies PREFETCHW", arch/x86/kernel/cpu/amd.c), as a hypervisor may. There this test
    // fails although the library's choice, the read prefetch, is safe. It is not skipped there:
    // a wrong bit in the library looks the same on this AMD host.
    INFO("CPUID 0x80000001 ECX bit 8 as the library reads it: " << bit << "; /proc/cpuinfo 3dnowprefetch: " << flag
                                                                 << " (on an AMD guest that hides the bit, the kernel sets the flag anyway)");
    CHECK(bit == flag);
    CHECK(marllb::shm::detail::g_has_prefetchw == flag);
}
#endif
