import CashpointStore
import Testing

/// The posting service's core alone: which postings go to the database together.
@Suite("posting batches: natural batching, no shared account in a batch, arrival order kept")
struct PostingBatchesTests {
    @Test("an idle service starts a batch of one at once; what arrives meanwhile goes together when it ends")
    func natural() {
        var batches = PostingBatches(maxInFlight: 1, maxSize: 64)
        #expect(batches.submitted(1, keys: ["a1", "t1"]) == .start([1]))
        #expect(batches.submitted(2, keys: ["a2", "t2"]) == .none)
        #expect(batches.submitted(3, keys: ["a3", "t3"]) == .none)
        #expect(batches.waitingCount == 2)
        #expect(batches.finished() == .start([2, 3]))
        #expect(batches.finished() == .none)
        #expect(batches.inFlight == 0)
        #expect(batches.submitted(4, keys: ["a4"]) == .start([4]))
    }

    @Test("up to maxInFlight batches at once; the rest wait")
    func inFlight() {
        var batches = PostingBatches(maxInFlight: 2, maxSize: 64)
        #expect(batches.submitted(1, keys: ["a1"]) == .start([1]))
        #expect(batches.submitted(2, keys: ["a2"]) == .start([2]))
        #expect(batches.submitted(3, keys: ["a3"]) == .none)
        #expect(batches.inFlight == 2)
        #expect(batches.finished() == .start([3]))
    }

    @Test("two postings on one account never share a batch, and a third on it keeps its place behind the second")
    func sharedAccount() {
        var batches = PostingBatches(maxInFlight: 1, maxSize: 64)
        #expect(batches.submitted(1, keys: ["t0"]) == .start([1]))
        #expect(batches.submitted(2, keys: ["t1", "aX"]) == .none)
        #expect(batches.submitted(3, keys: ["t2", "aX", "aY"]) == .none)
        #expect(batches.submitted(4, keys: ["t3", "aY"]) == .none)  // behind 3 on aY
        #expect(batches.submitted(5, keys: ["t4", "aZ"]) == .none)
        #expect(batches.finished() == .start([2, 5]))
        #expect(batches.finished() == .start([3]))
        #expect(batches.finished() == .start([4]))
        #expect(batches.finished() == .none)
    }

    @Test("a batch holds at most maxSize postings; the next takes the rest in order")
    func maxSize() {
        var batches = PostingBatches(maxInFlight: 1, maxSize: 2)
        #expect(batches.submitted(1, keys: ["a1"]) == .start([1]))
        for member: UInt64 in 2...6 { #expect(batches.submitted(member, keys: ["a\(member)"]) == .none) }
        #expect(batches.finished() == .start([2, 3]))
        #expect(batches.finished() == .start([4, 5]))
        #expect(batches.finished() == .start([6]))
    }

    @Test("a waiting posting withdrawn leaves the queue; one in a batch already cannot be")
    func withdrawn() {
        var batches = PostingBatches(maxInFlight: 1, maxSize: 64)
        #expect(batches.submitted(1, keys: ["a1"]) == .start([1]))
        #expect(batches.submitted(2, keys: ["a2"]) == .none)
        #expect(batches.submitted(3, keys: ["a3"]) == .none)
        let inBatch = batches.withdrawn(1)
        let waiting = batches.withdrawn(2)
        let gone = batches.withdrawn(2)
        #expect(!inBatch && waiting && !gone)
        #expect(batches.finished() == .start([3]))
    }
}
