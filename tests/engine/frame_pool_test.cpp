// The frame pool's bookkeeping: every move checked, every frame counted once.
#include "lrp/frame_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace lrp {
namespace {

TEST(FramePool, StartsWithEveryFrameFree) {
  FramePool pool(16, 2048, 4);
  auto c = pool.counts();
  EXPECT_EQ(c.total, 16u);
  EXPECT_EQ(c.at(FramePlace::Free), 16u);
  EXPECT_TRUE(pool.consistent(nullptr));
}

TEST(FramePool, FullReceiveAndTransmitCycleKeepsTheInvariant) {
  FramePool pool(8, 2048, 4);
  uint64_t addrs[8];
  ASSERT_EQ(pool.take_for_fill(addrs), 8u);
  EXPECT_EQ(pool.counts().at(FramePlace::KernelRx), 8u);
  // The kernel hands frames back with an offset inside the frame.
  ASSERT_TRUE(pool.received(addrs[0] + 256, 1));
  ASSERT_TRUE(pool.received(addrs[1], 2));
  EXPECT_EQ(pool.held_by(1), 1u);
  EXPECT_EQ(pool.held_by(2), 1u);
  ASSERT_TRUE(pool.release(addrs[0], 1));
  uint64_t tx = 0;
  ASSERT_TRUE(pool.take_for_send(1, &tx));
  ASSERT_TRUE(pool.submitted_for_tx(tx, 1));
  EXPECT_EQ(pool.tx_by(1), 1u);
  uint16_t owner = kNoOwner;
  ASSERT_TRUE(pool.completed(tx, &owner));
  EXPECT_EQ(owner, 1);
  std::string why;
  EXPECT_TRUE(pool.consistent(&why)) << why;
  auto c = pool.counts();
  EXPECT_EQ(c.at(FramePlace::Free) + c.at(FramePlace::KernelRx) + c.at(FramePlace::Held) +
                c.at(FramePlace::KernelTx),
            8u);
}

TEST(FramePool, DoubleReleaseAndForeignReleaseAreRefusedAndCounted) {
  FramePool pool(4, 2048, 4);
  uint64_t addr;
  ASSERT_EQ(pool.take_for_fill({&addr, 1}), 1u);
  ASSERT_TRUE(pool.received(addr, 1));
#ifndef LRP_CHECK_FRAMES
  EXPECT_FALSE(pool.release(addr, 2));  // not its frame
  EXPECT_TRUE(pool.release(addr, 1));
  EXPECT_FALSE(pool.release(addr, 1));      // already free
  EXPECT_FALSE(pool.received(addr, 1));     // free frames do not come from the kernel
  EXPECT_FALSE(pool.release(1u << 30, 1));  // outside the UMEM
  EXPECT_EQ(pool.violations(), 4u);
  std::string why;
  EXPECT_FALSE(pool.consistent(&why));
  EXPECT_NE(why.find("invalid"), std::string::npos) << why;
#else
  EXPECT_DEATH(pool.release(addr, 2), "frame accounting");
#endif
}

TEST(FramePool, LeavingOwnerGivesBackWhatItHeld) {
  FramePool pool(8, 2048, 4);
  uint64_t addrs[4];
  ASSERT_EQ(pool.take_for_fill(addrs), 4u);
  for (uint64_t a : addrs) ASSERT_TRUE(pool.received(a, 3));
  EXPECT_EQ(pool.reclaim_owner(3), 4u);
  EXPECT_EQ(pool.held_by(3), 0u);
  EXPECT_EQ(pool.counts().at(FramePlace::Free), 8u);
  EXPECT_TRUE(pool.consistent(nullptr));
}

TEST(FramePool, UnfilledFramesReturnToFree) {
  FramePool pool(8, 2048, 4);
  uint64_t addrs[8];
  ASSERT_EQ(pool.take_for_fill(addrs), 8u);
  pool.return_unfilled({addrs + 5, 3});
  EXPECT_EQ(pool.counts().at(FramePlace::Free), 3u);
  EXPECT_TRUE(pool.consistent(nullptr));
}

TEST(FramePool, BatchedTransmitMovesKeepTheInvariantAndReportOwners) {
  FramePool pool(8, 2048, 4);
  uint64_t addrs[6];
  ASSERT_EQ(pool.take_for_tx(2, {addrs, 4}), 4u);
  ASSERT_EQ(pool.take_for_tx(3, {addrs + 4, 2}), 2u);
  EXPECT_EQ(pool.tx_by(2), 4u);
  EXPECT_EQ(pool.tx_by(3), 2u);
  // Two never reached the ring.
  pool.untake_for_tx({addrs + 2, 2}, 2);
  EXPECT_EQ(pool.tx_by(2), 2u);
  // Completions come back mixed; each reports its owner. The kernel may
  // hand back an address inside the frame.
  const uint64_t done[4] = {addrs[4] + 128, addrs[0], addrs[5], addrs[1]};
  uint16_t owners[4];
  pool.completed_batch(done, owners);
  EXPECT_EQ(owners[0], 3);
  EXPECT_EQ(owners[1], 2);
  EXPECT_EQ(owners[2], 3);
  EXPECT_EQ(owners[3], 2);
  EXPECT_EQ(pool.tx_by(2) + pool.tx_by(3), 0u);
  EXPECT_EQ(pool.counts().at(FramePlace::Free), 8u);
  std::string why;
  EXPECT_TRUE(pool.consistent(&why)) << why;
  // Only 8 frames: a larger take gets what there is.
  uint64_t more[10];
  EXPECT_EQ(pool.take_for_tx(1, more), 8u);
}

#ifndef LRP_CHECK_FRAMES
TEST(FramePool, CompletionOfAFrameNotOutForTransmitIsAViolation) {
  FramePool pool(4, 2048, 4);
  uint64_t addr;
  ASSERT_EQ(pool.take_for_fill({&addr, 1}), 1u);
  uint16_t owner = 0;
  pool.completed_batch({&addr, 1}, &owner);
  EXPECT_EQ(owner, kNoOwner);
  EXPECT_EQ(pool.violations(), 1u);
  EXPECT_EQ(pool.counts().at(FramePlace::KernelRx), 1u);
}
#endif

}  // namespace
}  // namespace lrp
