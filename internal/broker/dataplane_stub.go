//go:build !samsa_dataplane

package broker

// dataPlane is empty until the storage and metadata packages land.
type dataPlane struct{}
