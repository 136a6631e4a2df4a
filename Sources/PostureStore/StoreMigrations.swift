/// What a backend's schema migrations need from the store's scripts.
public enum StoreMigrations {
    /// Chains the audit-trail sources that have no entry yet, oldest first (SQLite v3: the rows earlier
    /// versions stored before the trail existed).
    public static func chainAuditTrail(_ db: any SQLExecutor) throws { try AuditTrail.chainExisting(db) }
}
