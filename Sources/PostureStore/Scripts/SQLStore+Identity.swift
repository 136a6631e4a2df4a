extension SQLStore: FleetIdentityStore {
    public func claimIdentity(_ name: String, value: String) async throws -> String {
        try await write { db in
            try db.execute(
                "INSERT INTO store_identity (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [name, value])
            return try db.row("SELECT value FROM store_identity WHERE name = ?", [name])?.text("value") ?? value
        }
    }
}
