package signing

// Argon2Hash lets tests store a client secret as kyso did before it
// checked client secrets by HMAC.
var Argon2Hash = argon2Hash
