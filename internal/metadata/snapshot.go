package metadata

import (
	"encoding/binary"
	"fmt"
)

// snapshotVersion is the first byte of a snapshot.
const snapshotVersion byte = 1

// encodeSnapshot writes an image as: version (1 byte) | epoch (int64 BE) |
// a record batch (AppendRecords) that rebuilds the image from empty.
func encodeSnapshot(im *Image) []byte {
	b := []byte{snapshotVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(im.Epoch))
	return AppendRecords(b, imageRecords(im))
}

// decodeSnapshot rebuilds an image from encodeSnapshot's output.
func decodeSnapshot(data []byte, clusterID string, controllerID int32) (*Image, error) {
	if len(data) < 9 {
		return nil, fmt.Errorf("metadata: snapshot: %w: %d bytes", ErrCorruptRecord, len(data))
	}
	if data[0] != snapshotVersion {
		return nil, fmt.Errorf("metadata: snapshot: unsupported version %d", data[0])
	}
	epoch := int64(binary.BigEndian.Uint64(data[1:9]))
	records, err := DecodeRecords(data[9:])
	if err != nil {
		return nil, fmt.Errorf("metadata: snapshot: %w", err)
	}
	im, err := applyRecords(emptyImage(clusterID, controllerID), records)
	if err != nil {
		return nil, fmt.Errorf("metadata: snapshot: %w", err)
	}
	im.Epoch = epoch
	return im, nil
}
