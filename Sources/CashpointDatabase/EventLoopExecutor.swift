public import NIOCore

/// A task executor that runs jobs on one NIO event loop.
///
/// A task that prefers it (`withTaskExecutorPreference`, `addTask(executorPreference:)`) runs on the
/// same thread as the database connections of a client made with that loop's group, so a query's
/// answer resumes the waiting task without a hop between threads. On two cores the hops between
/// Swift's cooperative pool and NIO's threads cost the posting path 10-15% (docs/performance.md).
public final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `loop` is immutable and EventLoop is thread-safe.
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

extension EventLoopExecutor {
    /// The executor the current task's work should prefer: a server sets it for each request's task
    /// (`$preferred.withValue`), so work that must leave the structured tree (a request's body that the
    /// switch may abandon when the database hangs) still runs on the connection's event loop.
    @TaskLocal public static var preferred: EventLoopExecutor?
}
