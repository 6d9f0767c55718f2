import Engine
import Testing

@Suite struct GraphTests {
    @Test func linearShapeMismatchNamesTheOpAndBothShapes() throws {
        let g = Graph()
        let x = try g.input("x", Shape(8, 5))
        let w = try g.parameter("w", Shape(3, 4), .zeros)
        let b = try g.parameter("b", Shape(3), .zeros)
        let error = #expect(throws: GraphError.self) { try g.linear(x, weight: w, bias: b) }
        let message = error?.description ?? ""
        #expect(message.contains("linear"))
        #expect(message.contains("[8×5]"))
        #expect(message.contains("[3×4]"))
    }

    @Test func shapeErrorsAreThrownForEveryOpFamily() throws {
        let g = Graph()
        let a = try g.input("a", Shape(2, 3))
        let b = try g.input("b", Shape(4, 5))
        let v = try g.input("v", Shape(7))
        let idx = try g.input("idx", Shape(3), .int32)
        #expect(throws: GraphError.self) { try g.matmul(a, b) }
        #expect(throws: GraphError.self) { try g.matmul(a, b, transposeA: true) }
        #expect(throws: GraphError.self) { try g.add(a, b) }
        #expect(throws: GraphError.self) { try g.apply(.activationGradient(.relu), [a, b]) }
        #expect(throws: GraphError.self) { try g.sum(v, over: .rows) }
        #expect(throws: GraphError.self) { try g.apply(.broadcast(Shape(2, 3), scale: 1), [v]) }
        #expect(throws: GraphError.self) { try g.reparameterize(mean: a, logVariance: b, seed: 0) }
        #expect(throws: GraphError.self) { try g.vaeLoss(data: a, decoded: a, mean: b, logVariance: b, likelihood: .bernoulli) }
        #expect(throws: GraphError.self) { try g.gather(a, indices: idx, rows: 4) }
        #expect(throws: GraphError.self) { try g.gather(a, indices: v, rows: 2) }
        #expect(throws: GraphError.self) { try g.apply(.add, [a]) }
        #expect(throws: GraphError.self) { try g.apply(.linear(activation: .relu), [idx, a, v]) }
        // An optimizer may only update persistent tensors.
        let w = try g.parameter("w", Shape(2, 3), .zeros)
        let computed = try g.activation(a, .relu)
        #expect(throws: GraphError.self) { try g.update(.sgd(learningRate: 0.1), [computed, a]) }
        #expect(throws: GraphError.self) { try g.input("a", Shape(1)) }
        _ = try g.update(.sgd(learningRate: 0.1), [w, a])
    }

    @Test func matmulShapesFollowTheTransposeFlags() throws {
        let g = Graph()
        let a = try g.input("a", Shape(5, 2))
        let b = try g.input("b", Shape(3, 5))
        #expect(g.shape(try g.matmul(a, b, transposeA: true, transposeB: true)) == Shape(2, 3))
        #expect(g.shape(try g.matmul(b, a)) == Shape(3, 2))
    }

    @Test func gradientsRefuseWhatCannotBeDifferentiated() throws {
        let g = Graph()
        let a = try g.parameter("a", Shape(2, 3), .zeros)
        let unused = try g.parameter("unused", Shape(1), .zeros)
        let notScalar = try g.activation(a, .relu)
        #expect(throws: GraphError.self) { try g.gradients(of: notScalar, with: [a]) }
        let loss = try g.sum(notScalar)
        #expect(throws: GraphError.self) { try g.gradients(of: loss, with: [unused]) }
        let table = try g.parameter("table", Shape(4, 2), .zeros)
        let idx = try g.input("i", Shape(2), .int32)
        let rows = try g.sum(try g.gather(table, indices: idx, rows: 2))
        #expect(throws: GraphError.self) { try g.gradients(of: rows, with: [table]) }
    }
}
