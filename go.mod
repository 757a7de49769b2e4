module github.com/kyso-pki/kyso

go 1.26
