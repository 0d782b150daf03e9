package sim

// Predict exposes the prediction rule to the contract-vector tests.
var Predict = predict

// Incarnation returns how many times id has been spawned in the history st was copied from: a
// reused id has a new incarnation, which the frame shows as a despawn and a spawn.
func Incarnation(st *State, id Entity) uint32 {
	if int(id) >= len(st.gen) {
		return 0
	}
	return st.gen[id]
}
