import { Link } from 'react-router'
import { Compass } from 'lucide-react'
import { EmptyState } from '../components/ui/Feedback'

export default function NotFound() {
  return (
    <EmptyState icon={<Compass className="size-5" />} title="This page does not exist">
      <Link to="/" className="text-accent hover:underline">
        Back to the dashboard
      </Link>
    </EmptyState>
  )
}
