package controller

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterPartition is not served yet.
func (c *Client) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) (*kmsg.AlterPartitionResponse, error) {
	return nil, errors.New("AlterPartition is not served yet")
}
