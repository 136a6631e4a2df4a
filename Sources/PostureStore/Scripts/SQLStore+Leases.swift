#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SQLStore: LeaseStore {
    /// One conditional upsert: the row changes only for its holder or once it lapsed, so of two
    /// collectors claiming at once, one gets it.
    public func claimLease(_ name: String, owner: String, for duration: Duration, now: Date) async throws -> Bool {
        let until = now.addingTimeInterval(Double(duration.components.seconds))
        return try await write { db in
            try db.execute(
                """
                INSERT INTO store_leases (name, owner, until) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE store_leases.owner = excluded.owner OR store_leases.until < ?
                """, [name, owner, until, now]) == 1
        }
    }
}
