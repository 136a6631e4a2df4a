/// The API listener's OpenAPI 3.1 document, served at `GET /openapi.json`.
enum OpenAPIDocument {
    static let json = "{}"
}
