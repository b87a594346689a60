// util::IntrusiveList and util::IntrusiveQueue: order, O(1) removal anywhere, links
// cleared on the way out, and moves that keep the elements linked.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "corio/util/intrusive_list.hpp"

namespace corio::util {
namespace {

struct Node {
  int id = 0;
  Node* next = nullptr;
  Node* prev = nullptr;
};
using List = IntrusiveList<Node, &Node::next, &Node::prev>;
using Queue = IntrusiveQueue<Node, &Node::next>;

std::vector<int> ids(const List& l) {
  std::vector<int> out;
  for (Node* n = l.front(); n != nullptr; n = List::next(*n))
    out.push_back(n->id);
  return out;
}

TEST(IntrusiveListTest, KeepsPushOrderAndRemovesFromAnywhere) {
  Node a{1}, b{2}, c{3}, d{0};
  List l;
  l.push_back(a);
  l.push_back(b);
  l.push_back(c);
  l.push_front(d);
  EXPECT_EQ(ids(l), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(l.size(), 4u);
  l.remove(b);  // middle
  l.remove(d);  // front
  l.remove(c);  // back
  EXPECT_EQ(ids(l), (std::vector<int>{1}));
  EXPECT_EQ(l.back(), &a);
  EXPECT_EQ(b.next, nullptr);
  EXPECT_EQ(b.prev, nullptr);
  EXPECT_EQ(l.pop_front(), &a);
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.pop_front(), nullptr);
  EXPECT_EQ(l.back(), nullptr);
}

TEST(IntrusiveListTest, ContainsTellsALinkedElementFromAnUnlinkedOne) {
  Node a{1}, b{2}, outside{3};
  List l;
  l.push_back(a);
  l.push_back(b);
  EXPECT_TRUE(l.contains(a));
  EXPECT_TRUE(l.contains(b));
  EXPECT_FALSE(l.contains(outside));
  l.remove(a);
  EXPECT_FALSE(l.contains(a));
  EXPECT_TRUE(l.contains(b));
}

TEST(IntrusiveListTest, AMovedListKeepsItsElementsInOrder) {
  Node a{1}, b{2};
  std::vector<List> lists(1);
  lists[0].push_back(a);
  lists[0].push_back(b);
  lists.resize(100);  // the vector moves the list while its elements stay linked
  EXPECT_EQ(ids(lists[0]), (std::vector<int>{1, 2}));
  List taken = std::move(lists[0]);
  EXPECT_TRUE(lists[0].empty());
  EXPECT_EQ(ids(taken), (std::vector<int>{1, 2}));
  taken.remove(a);
  EXPECT_EQ(ids(taken), (std::vector<int>{2}));
}

TEST(IntrusiveQueueTest, IsFifoAndTakeAllEmptiesTheSource) {
  Node a{1}, b{2}, c{3};
  Queue q;
  q.push_back(a);
  q.push_back(b);
  Queue all = q.take_all();
  EXPECT_TRUE(q.empty());
  q.push_back(c);  // the source is usable again at once
  EXPECT_EQ(all.pop_front(), &a);
  EXPECT_EQ(a.next, nullptr);
  EXPECT_EQ(all.pop_front(), &b);
  EXPECT_EQ(all.pop_front(), nullptr);
  EXPECT_EQ(q.pop_front(), &c);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace corio::util
