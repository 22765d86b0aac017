//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run github.com/99designs/gqlgen

package main

func main() {}
