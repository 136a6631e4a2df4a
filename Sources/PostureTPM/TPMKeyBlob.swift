import Crypto
import PostureModel
import SwiftASN1

/// A TPM-resident key as the state directory holds it: the TPM's public and wrapped private parts, in the
/// "TSS2 PRIVATE KEY" PEM that tpm2-openssl and tpm2-tss-engine read (so `openssl pkey -provider tpm2 -in
/// device.tpmkey -pubout` works for an operator). The private part is encrypted by the TPM's storage root
/// key: the file is useless on any other TPM.
public struct TPMKeyBlob: Sendable, Hashable {
    /// The marshalled TPM2B_PUBLIC.
    public let `public`: [UInt8]
    /// The marshalled TPM2B_PRIVATE.
    public let `private`: [UInt8]
    public let publicArea: TPMPublicArea
    public let publicKey: P256.Signing.PublicKey

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.public == rhs.public && lhs.private == rhs.private }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(`public`)
        hasher.combine(`private`)
    }

    /// Checks that the public part is a P-256 signing key that cannot leave its TPM.
    public init(public: [UInt8], private: [UInt8]) throws(TPMError) {
        let area: TPMPublicArea
        do {
            area = try TPMPublicArea(tpm2bPublic: `public`)
        } catch {
            throw TPMError("the key's public part is malformed: \(error)")
        }
        let required: TPMPublicArea.Attributes = [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .sign]
        guard area.attributes.isSuperset(of: required), let key = area.publicKey else {
            throw TPMError(
                "the key is not a P-256 signing key bound to its TPM (attributes 0x\(String(area.attributes.rawValue, radix: 16)))"
            )
        }
        guard `private`.count >= 2, `private`.count <= 1024 else {
            throw TPMError("the key's private part is malformed")
        }
        self.public = `public`
        self.private = `private`
        publicArea = area
        publicKey = key
    }

    /// TCG "TSS2 PRIVATE KEY" (tpm2-tss-engine, tpm2-openssl): a loadable key under the owner hierarchy's
    /// ECC storage root key.
    static let loadableKey: ASN1ObjectIdentifier = [2, 23, 133, 10, 1, 3]
    static let ownerHierarchy = 0x4000_0001
}

extension TPMKeyBlob: PEMParseable, PEMSerializable {
    public static let defaultPEMDiscriminator = "TSS2 PRIVATE KEY"

    public init(derEncoded node: ASN1Node) throws {
        self = try DER.sequence(node, identifier: .sequence) { nodes in
            guard try ASN1ObjectIdentifier(derEncoded: &nodes) == Self.loadableKey else {
                throw ASN1Error.invalidASN1Object(reason: "not a loadable TSS2 key (OID 2.23.133.10.1.3)")
            }
            _ = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                try Bool(derEncoded: $0)
            }
            guard try Int(derEncoded: &nodes) == Self.ownerHierarchy else {
                throw ASN1Error.invalidASN1Object(reason: "the key's parent is not the owner hierarchy's storage key")
            }
            let pub = try ASN1OctetString(derEncoded: &nodes)
            let priv = try ASN1OctetString(derEncoded: &nodes)
            do {
                return try TPMKeyBlob(public: Array(pub.bytes), private: Array(priv.bytes))
            } catch {
                throw ASN1Error.invalidASN1Object(reason: "\(error)")
            }
        }
    }

    public func serialize(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(Self.loadableKey)
            try coder.serialize(true, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
            try coder.serialize(Self.ownerHierarchy)
            try coder.serialize(ASN1OctetString(contentBytes: `public`[...]))
            try coder.serialize(ASN1OctetString(contentBytes: `private`[...]))
        }
    }
}
